"""One training run. Knows nothing of any UI: it emits events and polls a Control.

The run is made of parts with one job each, every one with `state_dict()` / `load_state_dict()`
(PyTorch's idiom), so a checkpoint is theirs put together: model, optimizer and schedule; the
epoch loop (epoch.py: batch cursor, shuffling, random streams; a batch is step.py's); the best
epoch (monitor.py); the advisor's warnings (insight.py). Here: the run from start to end, each
epoch's validation, its events and checkpoints, and the faults that end it with a message.
"""

from __future__ import annotations

import contextlib
import math
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch

from mlp_tui.core.config import RunConfig
from mlp_tui.core.errors import DiskFullError
from mlp_tui.core.events import EndStatus, EpochEnd, Event, LrChanged, RunFailed, RunFinished, RunStarted
from mlp_tui.engine.control import Control
from mlp_tui.engine.data import Dataset
from mlp_tui.engine.epoch import EpochLoop, EpochTrained
from mlp_tui.engine.faults import NonFiniteLoss, diverged, no_memory, out_of_memory
from mlp_tui.engine.graph_step import CapturedStep, plan_step
from mlp_tui.engine.insight import Advisor, HealthMonitor
from mlp_tui.engine.lr_plan import LrPlan, make_scheduler, record_change, set_rate
from mlp_tui.engine.model import build_model, build_optimizer, count_parameters, format_summary
from mlp_tui.engine.monitor import BestEpoch, Key, score
from mlp_tui.engine.scoring import EvalResult, evaluate
from mlp_tui.engine.sink import RunSink
from mlp_tui.engine.step import TrainStep, steps_per_epoch
from mlp_tui.engine.threads import ThreadTuner

__all__ = ["Control", "NonFiniteLoss", "Trainer", "evaluate", "out_of_memory"]  # what other layers import here

TICK_S = 0.1  # progress events at most this often


class Trainer:
    """One training run: model, optimizer and schedule, the epochs, checkpoints (`capture`: see graph_step.py)."""

    def __init__(
        self,
        config: RunConfig,
        data: Dataset,
        device: torch.device,
        *,
        emit: Callable[[Event], None] = lambda e: None,
        control: Control | None = None,
        store: RunSink | None = None,
        preset: str = "custom",
        device_label: str | None = None,
        progress_interval: float | None = None,
        threads_cap: int | None = None,
        capture: bool = True,
    ) -> None:
        self.config, self.data, self.device = config, data, device
        # First: the thread count applies to all below (a comparison member's cap: its share).
        self.threads = ThreadTuner(config.threads, threads_cap, device.type)
        self.control, self.store, self.preset = control or Control(), store, preset
        self.device_label = self.threads.label() if device.type == "cpu" else device_label or str(device)
        self._emit_view: Callable[[Event], None] | None = emit
        self.progress_interval = TICK_S if progress_interval is None else progress_interval
        torch.manual_seed(config.seed)
        self.model = build_model(config, (data.mean, data.std)).to(device)
        self.steps_per_epoch = steps_per_epoch(len(data.train_x), config.batch_size)
        self.step_plan = plan_step(config, device, self.steps_per_epoch, capture)
        self.optimizer = build_optimizer(self.model, config, device)
        self.scheduler = make_scheduler(self.optimizer, config, self.steps_per_epoch * config.epochs)
        probe = data.val_x if len(data.val_x) else data.train_x
        self.health = HealthMonitor(self.model, config, probe) if config.health else None
        step = CapturedStep if self.step_plan.captured else TrainStep
        self.step = step.from_config(config, data, self.model, self.optimizer, self.scheduler, self.health)
        self.loop = EpochLoop(config, data, device, self.step, self.control, self.threads, self)
        self.best = BestEpoch(config.monitor)
        self.advisor = Advisor(config)
        self.lr_plan = LrPlan(config)

    @property
    def epoch(self) -> int:
        """Epochs completed."""
        return self.loop.cursor.epoch

    @property
    def best_epoch(self) -> int | None:
        return self.best.epoch

    @property
    def best_key(self) -> Key | None:
        return self.best.key

    @best_key.setter
    def best_key(self, key: Key | None) -> None:
        self.best.key = key

    # -- events ---------------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        if self.store is not None:
            self.store.append(event)
        if self._emit_view is None:
            return
        try:
            self._emit_view(event)
        except Exception as exc:
            # The view went away (a closed pipe, a hung-up terminal) or broke: training and the
            # run directory carry on without it; a fault of the view's own goes to error.log.
            self._emit_view = None
            if self.store is not None and not isinstance(exc, OSError):
                self.store.write_error(f"The view stopped showing this run:\n{traceback.format_exc()}")

    # -- the run --------------------------------------------------------------------------
    def run(self) -> RunFinished | RunFailed:
        """Train to the end (or a stop), then report on the test set. Never raises for
        training faults: they end in a RunFailed event, which is also returned."""
        started = time.perf_counter()
        try:
            self._started()
            status: str = EndStatus.COMPLETED
            while self.epoch < self.config.epochs:
                if not self._train_epoch():
                    status = self.control.stop_reason
                    self._save_last(partial=True)
                    break
                if self.best.patience_spent(self.config.patience):
                    status = EndStatus.EARLY_STOPPED
                    break
            return self._finish(status, started)
        except NonFiniteLoss as exc:
            lr = self.optimizer.param_groups[0]["lr"]
            return self._fail("nan", diverged(exc, lr, self.config, self.epoch), exc.epoch, exc.batch)
        except DiskFullError as exc:  # its text names the file, the last.pt kept, what to do: save no more
            return self._fail("disk-full", str(exc), self.epoch + 1, None)
        except Exception as exc:  # any other fault ends the run with a message, not a crash
            if out_of_memory(exc):
                self._try_save_last()
                return self._fail("out-of-memory", no_memory(self.config), self.epoch + 1, None)
            if self.store is not None:
                self.store.write_error(traceback.format_exc())
            self._try_save_last()
            return self._fail("error", f"{type(exc).__name__}: {exc}", self.epoch + 1, None)

    def _started(self) -> None:
        data, store = self.data, self.store
        self.emit(RunStarted(
            config=self.config.to_dict(), preset=self.preset, device=self.device_label,
            summary=format_summary(self.model), parameters=count_parameters(self.model),
            train_size=len(data.train_x), val_size=len(data.val_x), test_size=len(data.test_x),
            run_dir=str(store.location) if store else None, start_epoch=self.epoch, time=time.time(),
            step=self.step_plan.words,
        ))  # fmt: skip

    def _fail(self, reason: str, message: str, epoch: int | None, batch: int | None) -> RunFailed:
        event = RunFailed(reason=reason, message=message, epoch=epoch, batch=batch)
        try:
            self.emit(event)
        except OSError:  # the disk cannot take this last line either: the views still hear it
            self.store = None
            self.emit(event)
        return event

    def _train_epoch(self) -> bool:
        """One epoch: its batches, then validation, the best weights, checkpoints and events.
        False if a stop came before the end."""
        trained = self.loop.train()
        if trained is None:
            return False
        self._end_epoch(trained)
        return True

    def _end_epoch(self, trained: EpochTrained) -> None:
        epoch = self.epoch + 1
        val = self._validate(epoch)
        if val is not None:
            key = score(self.config.monitor, val.accuracy, val.loss)
        else:
            key = score(self.config.monitor, trained.accuracy, trained.loss)
        # Only now is the epoch done: a fault in validation leaves it to be finished, and a fault
        # in the saves below resumes at the next epoch's first batch, never "mid-way" through it.
        self.loop.cursor.finish_epoch()
        is_best = self.best.update(epoch, key, val.accuracy if val else None, self.model)
        if is_best:
            self._save_best()
        end = EpochEnd(
            epoch=epoch, epochs=self.config.epochs, train_loss=trained.loss, train_accuracy=trained.accuracy,
            val_loss=val.loss if val else None, val_accuracy=val.accuracy if val else None,
            lr=self.optimizer.param_groups[0]["lr"], seconds=trained.seconds, samples_per_s=trained.samples_per_s,
            is_best=is_best,
        )  # fmt: skip
        health = self.health.epoch_health(epoch) if self.health is not None else None
        warnings = self.advisor.warnings(end, health, self.best.epoch) if health is not None else []
        self._save_last(partial=False)  # after the advisor: a resumed run does not warn twice
        for event in (end, val.event if val else None, health, *warnings):
            if event is not None:
                self.emit(event)

    def _validate(self, epoch: int) -> EvalResult | None:
        """The epoch's validation (None without validation images); a NaN there is a divergence."""
        if not len(self.data.val_x):
            return None
        val = evaluate(self.model, self.data.val_x, self.data.val_y, self.config, "val", epoch)
        if not math.isfinite(val.loss):
            raise NonFiniteLoss(epoch, self.steps_per_epoch, val.loss)
        return val

    def before_batch(self, epoch: int, batch: int) -> None:
        """Before a batch: the config's changes due here (a recorded run's, redone), then one
        asked for by hand, which joins the config."""
        for lr in self.lr_plan.due(epoch, batch):
            if lr != self.optimizer.param_groups[0]["lr"]:  # a batch redone after a fault: set already
                self.set_lr(lr, epoch, batch, planned=True)
        new_lr = self.control.take_lr(self.optimizer.param_groups[0]["lr"])  # a key's factor scales the rate now
        if new_lr is not None:
            self.set_lr(new_lr, epoch, batch)
            self.config = record_change(self.config, self.store, self.preset, epoch, batch, new_lr)

    def set_lr(self, lr: float, epoch: int, batch: int, planned: bool = False) -> None:
        """A learning rate given mid-run (by hand, or `planned` in the config). With a schedule,
        the schedule is scaled to pass through it, so it goes on from there (and a resumed run
        keeps it: the optimizer's and the scheduler's state hold the scaled values)."""
        previous = set_rate(self.optimizer, self.scheduler, lr)
        self.emit(LrChanged(epoch=epoch, batch=batch, lr=lr, previous=previous, planned=planned))

    def _finish(self, status: str, started: float) -> RunFinished:
        test_loss = test_acc = None
        if self.epoch > 0 or self.best.weights is not None:
            # Report on the weights that did best on validation, the usual practice.
            if self.best.weights is not None:
                self.model.load_state_dict(self.best.weights)
            result = evaluate(
                self.model, self.data.test_x, self.data.test_y, self.config, "test", self.best.epoch or self.epoch
            )
            self.emit(result.event)
            test_loss, test_acc = result.loss, result.accuracy
        event = RunFinished(
            status=status,
            epochs_done=self.epoch,
            best_epoch=self.best.epoch,
            best_val_accuracy=self.best.val_accuracy,
            test_loss=test_loss,
            test_accuracy=test_acc,
            seconds=time.perf_counter() - started,
        )
        self.emit(event)
        return event

    # -- state and checkpoints --------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything the run needs to go on as if never interrupted: its parts' state, put
        together under the keys last.pt has always had (runs/ and users' old runs read them)."""
        return {
            "config": self.config.to_dict(),  # what a resumed run is rebuilt from (not loaded here)
            "preset": self.preset,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            **self.best.state_dict(),
            **self.loop.state_dict(),
            "advisor": self.advisor.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """From a `last.pt` written by any version: weights, optimizer, schedule, epoch counter,
        early-stopping state and random streams; one saved mid-epoch resumes at its next batch.
        Older ones may lack a schedule, the advisor, `monitor` or `since_best`."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.best.load_state_dict(state)
        self.loop.load_state_dict(state)
        if state.get("advisor"):
            self.advisor.load_state_dict(state["advisor"])

    def restore(self, checkpoint: dict[str, Any], best: dict[str, Any] | None = None) -> None:
        """Continue from a `last.pt` and, when there is one, the `best.pt` whose weights the
        test at the end uses."""
        self.load_state_dict(checkpoint)
        if best is not None:
            self.best.weights = {k: v.to(self.device) for k, v in best["model"].items()}

    def _save_best(self) -> None:
        if self.store is None:
            return
        state = {"config": self.config.to_dict(), "preset": self.preset, "epoch": self.epoch}
        state |= {"model": self.best.weights, "val_accuracy": self.best.val_accuracy}
        self.store.save_checkpoint("best", state)

    def _save_last(self, partial: bool) -> None:
        """`partial`: saved on a stop or a fault, not at an epoch's end (the epoch may be cut short)."""
        if self.store is not None:
            self.store.save_checkpoint("last", self.state_dict() | {"partial_epoch": partial})

    def _try_save_last(self) -> None:
        with contextlib.suppress(Exception):
            self._save_last(partial=True)
