"""The learning-rate finder (fastai's `lr_find`, Lightning's `Tuner.lr_find`): train a copy of the
run's model for about a hundred batches while the rate rises exponentially, and read a good rate
off the loss curve. Knows nothing of any UI; the original weights are never touched.

The loss is smoothed as fastai does (an exponential moving average, β = 0.98, bias-corrected), and
the sweep stops once the smoothed loss passes 4× its best or is not finite. The suggestions are
fastai's, read from the curve without its first tenth and last five points (the start is noise,
the end is divergence):

- valley: the middle of the curve's longest descent (fastai's default);
- minimum/10: a tenth of the rate at the lowest smoothed loss;
- steepest: the rate where the loss falls fastest (most negative slope against log rate;
  Lightning's default, and ours).

Which one is suggested depends on how the run uses the rate. A constant rate must be safe for
the whole run: the valley (fastai's default). A schedule that anneals from a peak (onecycle,
cosine) spends few steps near its peak, which can sit higher: the steepest fall (Lightning's
default). Where the loss never fell (no valley), minimum/10. Measured over 3 seeds against rates
10x either side (benchmarks/RESULTS.md): `sigmoid` (constant) valley 0.0016 gave 97.77 ± 0.08 %,
0.00016 97.02, 0.016 90.7 (its steepest, 0.031, gave 44 %); `dropout` (onecycle) steepest 0.0011
gave 98.55 ± 0.03 %, 0.00011 95.61, 0.011 98.04.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from mlp_tui.core.config import ConfigError, RunConfig
from mlp_tui.engine.data import Dataset
from mlp_tui.engine.model import build_model, build_optimizer
from mlp_tui.engine.step import TrainStep
from mlp_tui.engine.threads import ThreadTuner

START_LR, END_LR, BATCHES, BETA, DIVERGED = 1e-7, 10.0, 100, 0.98, 4.0
VALLEY, MINIMUM, STEEPEST = "valley", "minimum/10", "steepest"


@dataclass(frozen=True)
class Suggestion:
    """A suggested rate, named for the rule that found it; `loss` is the smoothed loss at the
    point of the curve the rule marks (for minimum/10, the minimum itself)."""

    name: str
    lr: float
    at_lr: float  # where on the curve to mark it
    loss: float


@dataclass(frozen=True)
class LrFinding:
    """One sweep: the rate of each batch and the smoothed loss after it, the suggestions and the
    one suggested, and how long it took."""

    rates: tuple[float, ...]
    losses: tuple[float, ...]
    suggestions: tuple[Suggestion, ...]
    suggested: Suggestion
    seconds: float
    diverged: bool  # stopped early: the smoothed loss passed 4x its best or was not finite

    def suggestion(self, name: str) -> Suggestion | None:
        return next((s for s in self.suggestions if s.name == name), None)


def sweep_rates(start: float = START_LR, end: float = END_LR, batches: int = BATCHES) -> list[float]:
    """`batches` rates from `start` to `end`, evenly spaced on a log scale."""
    ratio = end / start
    return [start * ratio ** (i / max(1, batches - 1)) for i in range(batches)]


def find_lr(
    config: RunConfig,
    data: Dataset,
    device: torch.device,
    *,
    model: nn.Module | None = None,
    start: float = START_LR,
    end: float = END_LR,
    batches: int = BATCHES,
    cancelled: Callable[[], bool] = lambda: False,
) -> LrFinding:
    """Sweep the rate over `batches` batches of the run's data, distortions and batch size, on a
    copy of `model` (default: the model the config builds, as a run with its seed starts). The
    same config, seed and thread count give the same sweep (threads `auto` may change the count
    mid-sweep, and sums over another count differ in the last bits); torch's global random state
    is left as it was. `cancelled` is asked after every batch (a closed dialog stops the sweep)."""
    began = time.perf_counter()
    config = dataclasses.replace(config, compile=False)  # a hundred batches: not worth compiling
    threads = ThreadTuner(config.threads, None, device.type)  # as a run: auto times its choices as it goes
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        net = copy.deepcopy(model) if model is not None else build_model(config, (data.mean, data.std))
        net = net.to(device)
        rates, raw = _sweep(config, data, device, net, sweep_rates(start, end, batches), threads, cancelled)
    losses, stopped = smooth(raw)
    rates = rates[: len(losses)]
    suggestions = suggest(rates, losses, batches)
    return LrFinding(
        rates=tuple(rates), losses=tuple(losses), suggestions=tuple(suggestions),
        suggested=chosen(suggestions, config.schedule), seconds=time.perf_counter() - began, diverged=stopped,
    )  # fmt: skip


def _sweep(
    config: RunConfig, data: Dataset, device: torch.device, net: nn.Module, rates: list[float],
    threads: ThreadTuner, cancelled: Callable[[], bool],
) -> tuple[list[float], list[float]]:  # fmt: skip
    """Train `net` one batch per rate; the raw losses, stopping as soon as the smoothed one diverges."""
    optimizer = build_optimizer(net, config, device)
    step = TrainStep.from_config(config, data, net, optimizer)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    images, bs = len(data.train_x), config.batch_size
    net.train()
    raw: list[float] = []
    perm = torch.randperm(images, generator=generator, device=device)
    threads.new_epoch()
    for i, lr in enumerate(rates):
        b = i % step.steps
        if i and b == 0:  # a new pass over the data, in a new order
            perm = torch.randperm(images, generator=generator, device=device)
        for group in optimizer.param_groups:
            group["lr"] = lr
        step(b, perm[b * bs : (b + 1) * bs])
        raw.append(float(step.batch_losses[b].item()))
        threads.after_batch()  # a busy machine: one thread, not two spinning against each other
        if smooth(raw)[1] or cancelled():
            break
    return rates, raw


def smooth(raw: Sequence[float], beta: float = BETA) -> tuple[list[float], bool]:
    """fastai's smoothed losses (bias-corrected moving average), up to and including the first
    that passes `DIVERGED` times the best so far or is not finite (left out); and whether one did."""
    out: list[float] = []
    avg, best = 0.0, math.inf
    for i, loss in enumerate(raw):
        avg = beta * avg + (1 - beta) * loss
        value = avg / (1 - beta ** (i + 1))
        if not math.isfinite(value):
            return out, True
        out.append(value)
        if i and value > DIVERGED * best:
            return out, True
        best = min(best, value)
    return out, False


def suggest(rates: Sequence[float], losses: Sequence[float], batches: int = BATCHES) -> list[Suggestion]:
    """fastai's three suggestions, read from the curve without its first tenth and last five points
    (all of it where that would leave fewer than three)."""
    if not losses:
        raise ConfigError("the learning-rate sweep found no finite loss: the loss was not finite from the first batch")
    lo, hi = batches // 10, len(losses) - 5
    if hi - lo < 3:
        lo, hi = 0, len(losses)
    lrs, ls = list(rates[lo:hi]), list(losses[lo:hi])
    low = min(range(len(ls)), key=ls.__getitem__)
    steep = min(range(len(ls) - 1), key=lambda i: ls[i + 1] - ls[i]) if len(ls) > 1 else 0
    found = [
        Suggestion(MINIMUM, lrs[low] / 10, lrs[low], ls[low]),
        Suggestion(STEEPEST, lrs[steep], lrs[steep], ls[steep]),
    ]
    v = _valley(ls)
    return found if v is None else [Suggestion(VALLEY, lrs[v], lrs[v], ls[v]), *found]


def _valley(losses: Sequence[float]) -> int | None:
    """fastai's valley: the longest run of ever-lower losses (not necessarily adjacent); the point
    about half-way down it (fastai's index rule: start + a third + a sixth of its length). None
    where the loss never fell."""
    n = len(losses)
    run = [1] * n
    start = end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and run[i] < run[j] + 1:
                run[i] = run[j] + 1
            if run[end] < run[i]:
                end, start = i, i - run[i]
    if run[end] < 2:
        return None
    third = (end - start) / 3
    return min(n - 1, max(0, start + int(third) + int(third / 2)))


ANNEALED = ("onecycle", "cosine")  # schedules whose rate is a peak the run passes through


def chosen(suggestions: Sequence[Suggestion], schedule: str) -> Suggestion:
    """The valley for a constant rate, the steepest fall for a peak that anneals; where the loss
    never fell (no valley), minimum/10."""
    names = {s.name: s for s in suggestions}
    if VALLEY not in names:
        return names[MINIMUM]
    return names[STEEPEST] if schedule in ANNEALED else names[VALLEY]
