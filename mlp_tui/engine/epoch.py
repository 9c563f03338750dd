"""The epoch loop: one pass over the training set, batch by batch, and the cursor that says
where training stands (epochs done, batches done of the next); everything a resumed run needs to
go on mid-epoch follows from it.

Hot-loop rules: the data is already on the device, a batch is an index slice, and nothing reads
a value back to the host per batch; losses and correct counts accumulate on the device and are
read once per progress tick (about 10 per second).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from mlp_tui.core.config import RunConfig
from mlp_tui.core.events import BatchProgress, Event, ThreadsChanged
from mlp_tui.engine.control import Control
from mlp_tui.engine.data import Dataset
from mlp_tui.engine.faults import check_finite
from mlp_tui.engine.gpu_usage import GpuUsage
from mlp_tui.engine.graph_step import fallback_warning
from mlp_tui.engine.step import TrainStep
from mlp_tui.engine.threads import ThreadTuner


class RunHooks(Protocol):
    """What the loop asks of the run it belongs to (the Trainer)."""

    progress_interval: float  # seconds between progress events (read each epoch)

    def emit(self, event: Event) -> None: ...

    def before_batch(self, epoch: int, batch: int) -> None:
        """Make the learning-rate changes due before this batch (`batch` done in `epoch`)."""


@dataclass
class BatchCursor:
    """Where training stands: `epoch` epochs done, `batch` batches done of the next one. Once
    that epoch has begun, `shuffle` is the generator's state its order of images was drawn from."""

    epoch: int = 0
    batch: int = 0
    shuffle: torch.Tensor | None = None

    def finish_epoch(self) -> None:
        self.epoch, self.batch, self.shuffle = self.epoch + 1, 0, None


@dataclass(frozen=True)
class EpochTrained:
    """An epoch's training figures, over all of its images."""

    loss: float
    accuracy: float
    seconds: float  # training only: pauses and validation not counted
    samples_per_s: float


@dataclass
class _Clock:
    """The epoch's timing: when it started, time spent paused, the last progress tick."""

    start: float
    last_tick: float
    paused: float = 0.0

    def training_seconds(self, now: float) -> float:
        return max(now - self.start - self.paused, 1e-9)


class EpochLoop:
    """Trains the model one epoch at a time through a TrainStep; owns the shuffling and the
    cursor, and polls the control (pause, stop) at every batch boundary."""

    def __init__(
        self, config: RunConfig, data: Dataset, device: torch.device, step: TrainStep, control: Control,
        threads: ThreadTuner, run: RunHooks,
    ) -> None:  # fmt: skip
        self.config, self.data, self.device, self.step = config, data, device, step
        self.control, self.threads, self.run = control, threads, run
        self.images = len(data.train_x)
        self.generator = torch.Generator(device=device).manual_seed(config.seed)
        self.cursor = BatchCursor()
        self._fallback_told = False
        self.gpu = GpuUsage.for_device(device)  # None unless CUDA with nvidia-ml-py

    def seen(self, batches: int) -> int:
        """Images trained on in the epoch's first `batches` batches."""
        return min(batches * self.config.batch_size, self.images)

    def train(self) -> EpochTrained | None:
        """The next epoch's batches (or the rest of an epoch begun before a restore). None if a
        stop came before the end; then the cursor says which batch is next."""
        step, cursor, steps, bs = self.step, self.cursor, self.step.steps, self.config.batch_size
        epoch = cursor.epoch + 1
        step.model.train()
        perm = self._shuffle()
        step.set_order(perm)
        checked = first = cursor.batch
        now = time.perf_counter()
        clock = _Clock(start=now, last_tick=now)
        self.threads.new_epoch()
        while cursor.batch < steps:
            b = cursor.batch
            waited = self.control.wait_if_paused(self.run.emit, epoch, b)
            clock.paused += waited
            self.threads.paused(waited)
            if self.control.stopped:
                check_finite(step.batch_losses, checked, b, epoch)
                return None
            self.run.before_batch(epoch, b)
            step(b, perm[b * bs : (b + 1) * bs])
            cursor.batch = b + 1
            self._after_batch(epoch, b + 1)
            now = time.perf_counter()
            logged = self.config.log_every > 0 and (b + 1) % self.config.log_every == 0  # --log-every
            if logged or now - clock.last_tick >= self.run.progress_interval or b == steps - 1:
                check_finite(step.batch_losses, checked, b + 1, epoch)
                checked, clock.last_tick = b + 1, now
                rate = (self.seen(b + 1) - self.seen(first)) / clock.training_seconds(now)
                self._progress(epoch, b + 1, rate, logged)
        if step.failed and not self._fallback_told:
            self.run.emit(fallback_warning(epoch, step.failed))
            self._fallback_told = True
        seconds = clock.training_seconds(time.perf_counter())
        n = self.images
        return EpochTrained(
            step.loss_sum.item() / n, step.correct.item() / n, seconds, (n - self.seen(first)) / seconds
        )

    def _shuffle(self) -> torch.Tensor:
        """The epoch's order of images: drawn afresh, or for an epoch begun before a restore,
        drawn again from the same generator state (its sums so far are in the step already)."""
        if self.cursor.shuffle is not None:
            self.generator.set_state(self.cursor.shuffle)
        else:
            self.cursor.shuffle = self.generator.get_state()
            self.step.new_epoch()
        return torch.randperm(self.images, generator=self.generator, device=self.device)

    def _after_batch(self, epoch: int, batches: int) -> None:
        """The thread tuner's word on the batch just timed: it may change the thread count."""
        choice = self.threads.after_batch()
        if choice is not None:
            label = self.threads.label(since=f"epoch {epoch}")
            self.run.emit(ThreadsChanged(epoch=epoch, batch=batches, threads=choice.threads,
                                         previous=choice.previous, why=choice.why, device=label))  # fmt: skip

    def _progress(self, epoch: int, batches: int, rate: float, logged: bool) -> None:
        """Where the epoch stands: its running sums read back from the device, once per tick."""
        step, seen = self.step, self.seen(batches)
        busy, memory, total = (self.gpu.read() if self.gpu else None) or (None, None, None)
        self.run.emit(BatchProgress(
            epoch=epoch, epochs=self.config.epochs, batch=batches, batches=step.steps,
            loss=step.loss_sum.item() / seen, accuracy=step.correct.item() / seen, samples_per_s=rate,
            lr=float(step.optimizer.param_groups[0]["lr"]), logged=logged,
            gpu_busy=busy, gpu_memory=memory, gpu_memory_total=total,
        ))  # fmt: skip

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The epoch counter, the random streams (shuffling; dropout and distortions draw from
        torch's own) and, mid-epoch, where in it: under the keys last.pt has always used."""
        state: dict[str, Any] = {
            "epoch": self.cursor.epoch,
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
            "rng_generator": self.generator.get_state(),
        }
        if self.cursor.shuffle is not None:
            state["mid_epoch"] = {
                "epoch_generator_state": self.cursor.shuffle,
                "batches_done": self.cursor.batch,
                "seen": self.seen(self.cursor.batch),  # for readers of older versions
            } | self.step.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.cursor = BatchCursor(int(state["epoch"]))
        torch.set_rng_state(state["rng_cpu"])
        if self.device.type == "cuda" and state.get("rng_cuda") is not None:
            torch.cuda.set_rng_state(state["rng_cuda"], self.device)
        try:
            self.generator.set_state(state["rng_generator"])
        except RuntimeError:
            # Saved on another kind of device (GPU run resumed on a CPU, or the reverse): its
            # shuffling stream cannot move, so continue with a fresh one (not bit-identical).
            self.generator.manual_seed(self.config.seed + self.cursor.epoch)
        # Written only when a run stopped mid-epoch (partial_epoch), never at an epoch's end.
        mid = state.get("mid_epoch") if state.get("partial_epoch", True) else None
        if mid:
            self.cursor.batch, self.cursor.shuffle = int(mid["batches_done"]), mid["epoch_generator_state"]
            self.step.load_state_dict(mid)
