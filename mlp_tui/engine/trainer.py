"""The training loop. Knows nothing of any UI: it emits events and polls a Control.

Hot-loop rules: the data is already on the device, a batch is an index slice, and nothing reads
a value back to the host per batch; losses and correct counts accumulate on the device and are
read once per progress tick (about 10 per second).
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch

from mlp_tui.core.config import RunConfig
from mlp_tui.core.errors import DiskFullError
from mlp_tui.core.events import (  # fmt: skip
    BatchProgress,
    EpochEnd,
    Event,
    LrChanged,
    RunFailed,
    RunFinished,
    RunStarted,
    ThreadsChanged,
    from_dict,
)
from mlp_tui.engine.control import Control
from mlp_tui.engine.data import Dataset
from mlp_tui.engine.insight import Advisor, HealthMonitor
from mlp_tui.engine.lr_plan import LrPlan, record_change, set_rate
from mlp_tui.engine.model import build_model, build_optimizer, count_parameters, format_summary, linear_weights, loss_fn
from mlp_tui.engine.monitor import is_better, patience_spent, saved_key, score
from mlp_tui.engine.scoring import evaluate
from mlp_tui.engine.sink import RunSink
from mlp_tui.engine.step import TrainStep
from mlp_tui.engine.threads import Choice, ThreadTuner

TICK_S = 0.1  # progress events at most this often


class NonFiniteLoss(Exception):
    def __init__(self, epoch: int, batch: int, value: float) -> None:
        super().__init__(f"loss became {value} at epoch {epoch}, batch {batch}")
        self.epoch, self.batch, self.value = epoch, batch, value


def out_of_memory(exc: BaseException) -> bool:
    """CUDA raises torch.OutOfMemoryError; the CPU and MPS allocators raise a plain RuntimeError."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def compile_model(model: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """torch.compile for the training steps. Where compiling fails (no C++ compiler for a CPU
    build, an unsupported GPU), dynamo falls back to running the model as it is."""
    import torch._dynamo

    torch._dynamo.config.suppress_errors = True
    # Static shapes: the one shorter last batch of an epoch costs a single extra compile.
    return torch.compile(model, dynamic=False)


def make_scheduler(
    optimizer: torch.optim.Optimizer, config: RunConfig, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=max(total_steps, 1), cycle_momentum=config.optimizer != "sgd"
        )
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))
    return None


class Trainer:
    """One training run: model, optimizer and schedule, the epoch loop, checkpoints."""

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
    ) -> None:
        self.config, self.data, self.device = config, data, device
        # First: the thread count applies to everything below (a comparison member's cap is
        # its share of the cores).
        self.threads = ThreadTuner(config.threads, threads_cap, device.type)
        self.control = control or Control()
        self.store, self.preset = store, preset
        self.device_label = self.threads.label() if device.type == "cpu" else device_label or str(device)
        self._emit_view: Callable[[Event], None] | None = emit
        self.progress_interval = TICK_S if progress_interval is None else progress_interval
        torch.manual_seed(config.seed)
        self.model = build_model(config, (data.mean, data.std)).to(device)
        self.optimizer = build_optimizer(self.model, config, device)
        self.steps_per_epoch = max(1, math.ceil(len(data.train_x) / config.batch_size))
        self.scheduler = make_scheduler(self.optimizer, config, self.steps_per_epoch * config.epochs)
        self.generator = torch.Generator(device=device).manual_seed(config.seed)
        self.lossf = loss_fn(config)
        self.l1_weights = linear_weights(self.model)  # found once, not every batch
        # Training steps go through `forward`; checkpoints and evaluation use the plain model.
        self.forward = compile_model(self.model) if config.compile else self.model
        self.epoch = 0  # epochs completed
        self.best_epoch: int | None = None
        self.best_key: tuple[float, float] | None = None  # monitor.score: larger is better
        self.best_val_accuracy: float | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.since_best = 0
        self._resume_from: dict[str, Any] | None = None  # mid-epoch state from a partial checkpoint
        self._epoch_state: dict[str, Any] = {}
        probe = data.val_x if len(data.val_x) else data.train_x
        self.health = HealthMonitor(self.model, config, probe) if config.health else None
        self.advisor = Advisor(config)
        self.lr_plan = LrPlan(config)
        self.step = TrainStep(config, data, self.forward, self.optimizer, self.scheduler, self.lossf,
                              self.l1_weights, self.health, self.steps_per_epoch)  # fmt: skip

    # -- events ---------------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        if self.store is not None:
            self.store.append(event)
        if self._emit_view is None:
            return
        try:
            self._emit_view(event)
        except Exception:
            # The view went away (a closed pipe, a hung-up terminal): training and the run
            # directory carry on without it; nothing is lost.
            self._emit_view = None

    # -- the run --------------------------------------------------------------------------
    def run(self) -> RunFinished | RunFailed:
        """Train to the end (or a stop), then report on the test set. Never raises for
        training faults: they end in a RunFailed event, which is also returned."""
        started = time.perf_counter()
        try:
            self.emit(
                RunStarted(
                    config=self.config.to_dict(),
                    preset=self.preset,
                    device=self.device_label,
                    summary=format_summary(self.model),
                    parameters=count_parameters(self.model),
                    train_size=len(self.data.train_x),
                    val_size=len(self.data.val_x),
                    test_size=len(self.data.test_x),
                    run_dir=str(self.store.location) if self.store else None,
                    start_epoch=self.epoch,
                    time=time.time(),
                )
            )
            status = "completed"
            while self.epoch < self.config.epochs:
                finished_epoch = self._train_epoch()
                if not finished_epoch:
                    status = self.control.stop_reason
                    self._save_last(partial=True)
                    break
                if patience_spent(self.since_best, self.config.patience):
                    status = "early-stopped"
                    break
            return self._finish(status, started)
        except NonFiniteLoss as exc:
            lr = self.optimizer.param_groups[0]["lr"]
            return self._fail(
                "nan",
                f"training diverged: {exc} (learning rate {lr:.3g}). Try a smaller learning rate, "
                f"e.g. --lr {self.config.lr / 10:.3g}. Checkpoints and metrics up to epoch "
                f"{self.epoch} are kept.",
                exc.epoch,
                exc.batch,
            )
        except DiskFullError as exc:  # its text names the file, the last.pt kept, what to do: save no more
            return self._fail("disk-full", str(exc), self.epoch + 1, None)
        except Exception as exc:  # any other fault ends the run with a message, not a crash
            if out_of_memory(exc):
                self._try_save_last()
                return self._fail(
                    "out-of-memory",
                    f"the device ran out of memory at batch size {self.config.batch_size}; "
                    f"try --batch-size {max(1, self.config.batch_size // 4)} or a smaller model.",
                    self.epoch + 1,
                    None,
                )
            if self.store is not None:
                self.store.write_error(traceback.format_exc())
            self._try_save_last()
            return self._fail("error", f"{type(exc).__name__}: {exc}", self.epoch + 1, None)

    def _fail(self, reason: str, message: str, epoch: int | None, batch: int | None) -> RunFailed:
        event = RunFailed(reason=reason, message=message, epoch=epoch, batch=batch)
        try:
            self.emit(event)
        except OSError:  # the disk cannot take this last line either: the views still hear it
            self.store = None
            self.emit(event)
        return event

    def _train_epoch(self) -> bool:
        """One pass over the training set. False if a stop came before the end."""
        cfg, data, model, step = self.config, self.data, self.model, self.step
        epoch = self.epoch + 1
        model.train()
        n = len(data.train_x)
        resume, self._resume_from = self._resume_from, None
        if resume is not None:  # the shuffle of the interrupted epoch, replayed
            self.generator.set_state(resume["epoch_generator_state"])
        generator_state = self.generator.get_state()
        perm = torch.randperm(n, generator=self.generator, device=self.device)
        steps = self.steps_per_epoch
        start = last_tick = time.perf_counter()
        paused = 0.0
        checked = seen = first = 0
        if resume is not None:
            first = checked = resume["batches_done"]
            seen = resume["seen"]
            step.new_epoch(resume["loss_sum"], resume["correct"])
        else:
            step.new_epoch()
        seen0 = seen
        self.threads.new_epoch()
        for b in range(first, steps):
            self._epoch_state = {
                "epoch_generator_state": generator_state, "batches_done": b, "seen": seen,
                "loss_sum": step.loss_sum, "correct": step.correct,
            }  # fmt: skip
            waited = self.control.wait_if_paused(self.emit, epoch, b)
            paused += waited
            self.threads.paused(waited)
            if self.control.stopped:
                self._check_finite(step.batch_losses, checked, b, epoch)
                return False
            self._lr_changes(epoch, b)
            idx = perm[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            step(b, idx)
            choice = self.threads.after_batch()
            if choice is not None:
                self._threads_changed(choice, epoch, b + 1)
            seen += len(idx)
            now = time.perf_counter()
            logged = cfg.log_every > 0 and (b + 1) % cfg.log_every == 0  # --log-every: a line at these batches
            if logged or now - last_tick >= self.progress_interval or b == steps - 1:
                self._check_finite(step.batch_losses, checked, b + 1, epoch)
                checked = b + 1
                last_tick = now
                self._progress(epoch, b + 1, seen, (seen - seen0) / max(now - start - paused, 1e-9), logged)
        # All batches done, validation pending: a fault from here on resumes straight into it.
        self._epoch_state = {
            "epoch_generator_state": generator_state, "batches_done": steps, "seen": seen,
            "loss_sum": step.loss_sum, "correct": step.correct,
        }  # fmt: skip
        train_seconds = max(time.perf_counter() - start - paused, 1e-9)
        self._end_epoch(
            epoch, step.loss_sum.item() / n, step.correct.item() / n, train_seconds, (n - seen0) / train_seconds
        )
        self._epoch_state = {}
        return True

    def _progress(self, epoch: int, batch: int, seen: int, rate: float, logged: bool) -> None:
        """Where the epoch stands: its running sums read back from the device, once per tick."""
        step = self.step
        self.emit(BatchProgress(
            epoch=epoch, epochs=self.config.epochs, batch=batch, batches=self.steps_per_epoch,
            loss=step.loss_sum.item() / seen, accuracy=step.correct.item() / seen, samples_per_s=rate,
            lr=float(self.optimizer.param_groups[0]["lr"]), logged=logged,
        ))  # fmt: skip

    def _check_finite(self, batch_losses: torch.Tensor, lo: int, hi: int, epoch: int) -> None:
        if hi <= lo:
            return
        window = batch_losses[lo:hi]
        bad = (~torch.isfinite(window)).nonzero()
        if len(bad):
            i = int(bad[0])
            raise NonFiniteLoss(epoch, lo + i + 1, float(window[i]))

    def _end_epoch(self, epoch: int, train_loss: float, train_acc: float, seconds: float, rate: float) -> None:
        val = None
        if len(self.data.val_x):
            val = evaluate(self.model, self.data.val_x, self.data.val_y, self.config, "val", epoch)
            if not math.isfinite(val.loss):
                raise NonFiniteLoss(epoch, self.steps_per_epoch, val.loss)
            key = score(self.config.monitor, val.accuracy, val.loss)
        else:
            key = score(self.config.monitor, train_acc, train_loss)
        self.epoch = epoch  # only now: a fault in validation leaves the epoch to be finished
        # ... and from now on the epoch is done: a fault in the saves below resumes at the next
        # epoch's first batch, never "mid-way" through it with this epoch's sums.
        self._epoch_state = {}
        is_best = is_better(key, self.best_key)
        if is_best:
            self.best_key, self.best_epoch, self.since_best = key, epoch, 0
            self.best_val_accuracy = val.accuracy if val else None
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            self._save_best()
        else:
            self.since_best += 1
        end = EpochEnd(
            epoch=epoch,
            epochs=self.config.epochs,
            train_loss=train_loss,
            train_accuracy=train_acc,
            val_loss=val.loss if val else None,
            val_accuracy=val.accuracy if val else None,
            lr=self.optimizer.param_groups[0]["lr"],
            seconds=seconds,
            samples_per_s=rate,
            is_best=is_best,
        )
        health = self.health.epoch_health(epoch) if self.health is not None else None
        warnings = self.advisor.warnings(end, health, self.best_epoch) if health is not None else []
        self._save_last(partial=False)  # after the advisor: a resumed run does not warn twice
        self.emit(end)
        if val is not None:
            self.emit(val.event)
        if health is not None:
            self.emit(health)
        for warning in warnings:
            self.emit(warning)

    def _lr_changes(self, epoch: int, batch: int) -> None:
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

    def _threads_changed(self, choice: Choice, epoch: int, batch: int) -> None:
        self.device_label = self.threads.label(since=f"epoch {epoch}")
        self.emit(ThreadsChanged(epoch=epoch, batch=batch, threads=choice.threads, previous=choice.previous,
                                 why=choice.why, device=self.device_label))  # fmt: skip

    def _finish(self, status: str, started: float) -> RunFinished:
        test_loss = test_acc = None
        if self.epoch > 0 or self.best_state is not None:
            # Report on the weights that did best on validation, the usual practice.
            if self.best_state is not None:
                self.model.load_state_dict(self.best_state)
            result = evaluate(
                self.model, self.data.test_x, self.data.test_y, self.config, "test", self.best_epoch or self.epoch
            )
            self.emit(result.event)
            test_loss, test_acc = result.loss, result.accuracy
        event = RunFinished(
            status=status,
            epochs_done=self.epoch,
            best_epoch=self.best_epoch,
            best_val_accuracy=self.best_val_accuracy,
            test_loss=test_loss,
            test_accuracy=test_acc,
            seconds=time.perf_counter() - started,
        )
        self.emit(event)
        return event

    # -- checkpoints ----------------------------------------------------------------------
    def _base_checkpoint(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(), "preset": self.preset}

    def _save_best(self) -> None:
        if self.store is None:
            return
        state = self._base_checkpoint() | {
            "epoch": self.epoch,
            "model": self.best_state,
            "val_accuracy": self.best_val_accuracy,
        }
        self.store.save_checkpoint("best", state)

    def _save_last(self, partial: bool) -> None:
        if self.store is None:
            return
        state = self._base_checkpoint() | {
            "epoch": self.epoch,
            "partial_epoch": partial,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "best_epoch": self.best_epoch,
            "best_key": list(self.best_key) if self.best_key else None,
            "monitor": self.config.monitor,  # the order of best_key's two numbers
            "best_val_accuracy": self.best_val_accuracy,
            "since_best": self.since_best,
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
            "rng_generator": self.generator.get_state(),
            "advisor": {
                "history": [e.to_dict() for e in self.advisor.history],
                "sent": [[code, layer] for code, layer in self.advisor.sent],
            },
        }
        if partial and self._epoch_state:
            mid = dict(self._epoch_state)
            mid["loss_sum"], mid["correct"] = mid["loss_sum"].cpu(), mid["correct"].cpu()
            state["mid_epoch"] = mid
        self.store.save_checkpoint("last", state)

    def restore(self, checkpoint: dict[str, Any], best: dict[str, Any] | None = None) -> None:
        """Continue from a `last.pt` (and `best.pt`): weights, optimizer, schedule, epoch
        counter, early-stopping state and random streams, so the run goes on as if never
        interrupted. A checkpoint saved mid-epoch resumes at its next batch."""
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        if self.scheduler is not None and checkpoint.get("scheduler") is not None:
            self.scheduler.load_state_dict(checkpoint["scheduler"])
        self.epoch = int(checkpoint["epoch"])
        self.best_epoch = checkpoint.get("best_epoch")
        self.best_key = saved_key(checkpoint.get("best_key"), checkpoint.get("monitor"), self.config.monitor)
        self.best_val_accuracy = checkpoint.get("best_val_accuracy")
        self.since_best = int(checkpoint.get("since_best", 0))
        torch.set_rng_state(checkpoint["rng_cpu"])
        if self.device.type == "cuda" and checkpoint.get("rng_cuda") is not None:
            torch.cuda.set_rng_state(checkpoint["rng_cuda"], self.device)
        try:
            self.generator.set_state(checkpoint["rng_generator"])
        except RuntimeError:
            # Saved on another kind of device (GPU run resumed on a CPU, or the reverse): its
            # shuffling stream cannot move, so continue with a fresh one (not bit-identical).
            self.generator.manual_seed(self.config.seed + self.epoch)
        self._resume_from = checkpoint.get("mid_epoch") if checkpoint.get("partial_epoch") else None
        advisor = checkpoint.get("advisor")
        if advisor:
            history = [e for e in map(from_dict, advisor["history"]) if isinstance(e, EpochEnd)]
            self.advisor.restore(history, advisor["sent"])
        if best is not None:
            self.best_state = {k: v.to(self.device) for k, v in best["model"].items()}

    def _try_save_last(self) -> None:
        try:
            self._save_last(partial=True)
        except Exception:
            pass
