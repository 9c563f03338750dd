"""The training step on a GPU, captured once as a CUDA graph and replayed.

Eagerly, a batch of an MLP is a few dozen tiny kernel launches, and the CPU cannot issue them
as fast as the GPU runs them: the GPU idles most of the step. A graph replays the whole step
(the batch gather, the distortions, forward, backward, the update) with one launch.

What a graph needs, and how this step gives it:
- fixed addresses: the epoch's order of images sits in one buffer and the batch number in a
  device counter, so the batch is gathered inside the graph;
- no host numbers frozen in: the update reads the learning rate and Adam's betas (one-cycle
  moves them every batch) from device tensors, refreshed before each replay from the
  optimizer's own numbers, which the schedule and live changes go on setting (graph_optim.py);
- randomness that differs every replay: dropout and the distortions draw from the CUDA
  generator, whose offset PyTorch advances at each replay;
- one shape: the epoch's last batch (maybe shorter; layer health copies the weights before it)
  takes the eager step, as do the first few (the warm-up PyTorch's recipe asks for).

With `graphs=False` (any device) the same body runs eagerly: the CPU tests check it against the
eager step, so the graph differs from TrainStep only in being replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from mlp_tui.core.config import RunConfig
from mlp_tui.core.events import HealthWarning
from mlp_tui.engine.graph_optim import GRAPH_OPTIMIZERS, DeviceHyper, graph_update, state_on_device
from mlp_tui.engine.step import TrainStep

WARMUP = 3  # eager batches before the capture (lazy initialisation, the optimizer's state)


def capture_blocker(config: RunConfig, device: torch.device, steps: int) -> str | None:
    """Why a run's step cannot be captured, in a few words for its header (None: it can)."""
    if device.type != "cuda":
        return "graphs need CUDA"
    if config.compile:
        return "--compile"
    if config.optimizer not in GRAPH_OPTIMIZERS:
        return f"{config.optimizer} has no graph form here"
    if config.optimizer in ("momentum", "nesterov") and config.schedule == "onecycle":
        return f"one-cycle moves {config.optimizer}'s momentum every batch"
    if steps < 2:
        return "one batch per epoch"
    return None


@dataclass(frozen=True)
class StepPlan:
    """How a run trains its batches: `captured`, and for its header, `words`: "captured", or
    "eager (why)"; None on a CPU, where there is no choice to report."""

    captured: bool
    words: str | None


def plan_step(config: RunConfig, device: torch.device, steps: int, capture: bool = True) -> StepPlan:
    """The plan for a run of `steps` batches per epoch (`capture=False`: eager, as asked)."""
    blocker = capture_blocker(config, device, steps) if capture else "not asked for"
    words = None if device.type == "cpu" else "captured" if blocker is None else f"eager ({blocker})"
    return StepPlan(blocker is None, words)


def fallback_warning(epoch: int, why: str) -> HealthWarning:
    """Said once, when the graph is given up mid-run: the header said "captured"."""
    return HealthWarning(epoch, "eager-step", None, f"the CUDA graph was given up ({why})",
                         "the run goes on with the eager step: the same training, only slower")  # fmt: skip


class CapturedStep(TrainStep):
    """TrainStep whose full batches (all but the first few and each epoch's last) run as one
    replayed CUDA graph."""

    def __init__(self, *args: Any, graphs: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        device = self.data.train_x.device
        self.graphs = graphs and device.type == "cuda"
        self.order = torch.zeros(len(self.data.train_x), dtype=torch.long, device=device)
        self.offsets = torch.arange(self.batch_size, device=device)
        self.batch = torch.zeros((), dtype=torch.long, device=device)  # the graph's batch counter
        self._next = -1  # the batch the counter holds, as the host knows it
        self.hyper = DeviceHyper(self.optimizer, device)
        self.graph: Any = None  # torch.cuda.CUDAGraph once captured
        self.warmed = 0

    def set_order(self, order: torch.Tensor) -> None:
        """The epoch's order of images (once per epoch, or on a resume)."""
        self.order.copy_(order)

    def __call__(self, b: int, idx: torch.Tensor) -> None:
        if self._eager_now(b, idx):
            self._eager(b, idx)
            return
        if b != self._next:  # after an eager batch, or at an epoch's start
            self.batch.fill_(b)
        self.hyper.refresh()
        if self.graph is None and self.graphs and not self._capture():
            self._eager(b, idx)  # said once, by the epoch loop
            return
        if self.graph is not None:
            self.graph.replay()
        else:
            self._body()
        self._next = b + 1
        if self.health is not None:
            self.health.count_grad_sample()
        if self.scheduler is not None:
            self.scheduler.step()

    def _eager_now(self, b: int, idx: torch.Tensor) -> bool:
        """Whether batch `b` takes the eager step: an epoch's last, the warm-up, or any batch once
        the graph is given up."""
        if b == self.steps - 1 or len(idx) != self.batch_size or self.failed or self.warmed < WARMUP:
            return True
        if self.graph is None and not state_on_device(self.optimizer):
            self.failed = "the optimizer keeps its state on the host"
        return self.failed is not None

    def _eager(self, b: int, idx: torch.Tensor) -> None:
        """TrainStep's batch; before the capture on a side stream, as PyTorch's recipe asks
        (lazy set-up then happens outside the graph's memory)."""
        self.warmed += 1
        if not self.graphs or self.graph is not None or self.failed:
            super().__call__(b, idx)
            return
        device = self.data.train_x.device
        with torch.cuda.device(device):  # streams are per device: the data's, not device 0's
            side = torch.cuda.Stream(device)
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side):
                super().__call__(b, idx)
            torch.cuda.current_stream(device).wait_stream(side)

    def _body(self) -> None:
        """One batch, from the counter's place in the order; what the graph holds."""
        data = self.data
        idx = self.order.index_select(0, self.offsets + self.batch * self.batch_size)
        yb = data.train_y.index_select(0, idx)
        out, loss = self.forward_loss(data.train_x.index_select(0, idx), yb)
        self.optimizer.zero_grad(set_to_none=True)  # the graph's backward makes its own grads
        loss.backward()
        if self.health is not None:
            self.health.sample_grads()
        graph_update(self.optimizer, self.hyper)
        with torch.no_grad():
            d = loss.detach()
            self.batch_losses.index_copy_(0, self.batch.view(1), d.view(1))
            self.loss_sum += d * self.batch_size
            self.correct += (out.argmax(1) == yb).sum()
            self.batch += 1

    def _capture(self) -> bool:
        """Capture the body (nothing runs while it is captured). False if that failed: the eager
        step then trains the rest of the run, on the stream it used before."""
        device = self.data.train_x.device
        with torch.cuda.device(device):
            stream = torch.cuda.current_stream(device)
            try:
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, capture_error_mode="thread_local"):
                    self._body()
            except Exception as exc:  # any failure: train on eagerly rather than stop the run
                self.failed = f"capture failed: {type(exc).__name__}: {exc}"
                torch.cuda.set_stream(stream)  # a failed capture can leave its own stream current
                torch.cuda.synchronize(device)
                return False
        self.graph = graph
        return True
