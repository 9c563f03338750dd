"""A run as every view shows it, folded from its events: `RunProgress.apply(event)` returns the
next state and leaves the old one as it was (no clock, no UI, no torch). The training screen
(a live run, `watch`, a comparison's member) renders from it; the headless printer reckons its
ETA from it."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from mlp_tui.core.events import (
    BatchProgress,
    EpochEnd,
    Event,
    HealthWarning,
    LrChanged,
    Paused,
    Resumed,
    RunFailed,
    RunFinished,
    RunStarted,
    ThreadsChanged,
)
from mlp_tui.runs.handle import RunStatus
from mlp_tui.views.eta import run_left


class RunState(StrEnum):
    """What the run is doing, as its events (and this view's own requests) last said."""

    STARTING = "starting"  # the training process loads its data: no RunStarted yet
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"  # asked from here to stop: it finishes its batch, saves and ends
    FINISHED = "finished"  # RunFinished: completed, stopped early, stopped or interrupted
    FAILED = "failed"  # RunFailed (from the run, or the view's own reading of it broke)
    STALE = "stale"  # a watched run's process is alive but has said nothing for a while
    DIED = "died"  # a watched run's process is gone and the run never ended


GOING = frozenset({RunState.STARTING, RunState.RUNNING, RunState.PAUSED, RunState.STOPPING, RunState.STALE})
# What a watcher's RunStatus may move the state from and to (its own events say more, later).
FOLLOWS_WATCHER = frozenset({RunState.STARTING, RunState.STALE, RunState.RUNNING, RunState.PAUSED})
WATCHER_SAYS = {"running": RunState.RUNNING, "paused": RunState.PAUSED}
WATCHER_ALARMS = {"stale": RunState.STALE, "died": RunState.DIED}


@dataclass(frozen=True, eq=False)  # eq=False: a new state is news (a reactive compares by identity)
class RunProgress:
    epochs: int = 0  # the run's length and batch size, from its config: what the ETA counts in (0: unknown)
    batch_size: int = 1
    watched: bool = False  # following a run another process trains (`mlp-tui watch`)
    status: RunState = RunState.STARTING
    started_at: float = 0.0  # wall clock: the run's own start once RunStarted says it
    ended_at: float | None = None
    epoch: int = 0  # the last epoch done
    latest: BatchProgress | None = None  # the newest batch report: the bar, the pace, the ETA
    means_current: bool = True  # whether latest's running loss and accuracy are of its epoch
    batches: int | None = None  # per epoch: places a learning-rate change on the charts
    lr: float = 0.0  # as the run last reported it
    # Asked for by this view, not yet reported as taken: (rate, False) typed, (factor, True) by the keys.
    lr_asked: tuple[float, bool] | None = None
    epoch_seconds: tuple[float, ...] = ()
    epoch_rates: tuple[float, ...] = ()  # images/s per epoch, as the engine measured them
    bests: tuple[tuple[int, float | None], ...] = ()  # (epoch, validation accuracy) of each new best
    warnings: tuple[HealthWarning, ...] = ()  # each once
    device: str = "…"
    step: str | None = None  # on a GPU, how a batch trains: "captured" or "eager (why)"
    run_dir: str = ""
    result: RunFinished | RunFailed | None = None
    # Whether events are news (toast-worthy) rather than the run's history being replayed. A
    # watcher replays the whole metrics.jsonl and only then sends its first RunStatus; the app's
    # own run replays a resumed run's history without any BatchProgress, while a live epoch always
    # sends one (the engine reports its last batch).
    live: bool = False

    # -- what views ask --------------------------------------------------------------------------
    @property
    def going(self) -> bool:
        """The run has not ended (as far as this view knows)."""
        return self.status in GOING

    @property
    def steerable(self) -> bool:
        """Pause, stop and the learning rate can still be asked for."""
        return self.going and self.status != RunState.STOPPING

    @property
    def best_epoch(self) -> int | None:
        """The epoch whose weights the run keeps (the best on validation so far)."""
        if isinstance(self.result, RunFinished) and self.result.best_epoch is not None:
            return self.result.best_epoch
        return self.bests[-1][0] if self.bests else None

    @property
    def best_accuracy(self) -> float | None:
        """That epoch's validation accuracy."""
        if isinstance(self.result, RunFinished) and self.result.best_epoch is not None:
            return self.result.best_val_accuracy
        return self.bests[-1][1] if self.bests else None

    @property
    def gpu_progress(self) -> BatchProgress | None:
        """The newest progress while the run trains, for its GPU figures (gpu_busy...): paused,
        the GPU idles, and an ended run's figures are old news."""
        return self.latest if self.status == RunState.RUNNING else None

    @property
    def shown_epoch(self) -> int:
        """The epoch in progress (its bar shows), or the last one done between epochs."""
        return max(self.epoch, self.latest.epoch if self.latest else 0)

    def elapsed(self, now: float) -> float:
        return (self.ended_at or now) - self.started_at

    def time_left(self) -> float | None:
        """Seconds of training left (views.eta.run_left); None while nothing says how fast."""
        return run_left(self.epochs, self.epoch, self.epoch_seconds, self.latest, self.batch_size)

    # -- this view's own requests (the run's events confirm them) ---------------------------------
    def pausing(self) -> RunProgress:
        return replace(self, status=RunState.PAUSED)

    def resuming(self) -> RunProgress:
        return replace(self, status=RunState.RUNNING)

    def stopping(self) -> RunProgress:
        return replace(self, status=RunState.STOPPING)

    def asking_lr(self, value: float, relative: bool) -> RunProgress:
        return replace(self, lr_asked=(value, relative))

    # -- the fold ---------------------------------------------------------------------------------
    def apply(self, event: Event | RunStatus, *, now: float | None = None, paused: bool = False) -> RunProgress:
        """The state after `event`. `now`: the wall clock, for when a failure ended the run;
        `paused`: whether a pause was asked for before the run (re)started (its handle knows)."""
        run = replace(self, live=True) if self._is_news(event) else self
        if isinstance(event, RunStatus):
            return run._watcher_said(event.status)
        if isinstance(event, BatchProgress):
            lr = self.lr if event.lr is None else event.lr  # a schedule moves it every batch
            epochs = self.epochs or event.epochs  # a printer that missed the start learns it here
            return replace(run, epochs=epochs, batches=event.batches, latest=event, means_current=True, lr=lr)
        if isinstance(event, EpochEnd):
            return run._epoch_ended(event)
        if isinstance(event, HealthWarning):
            return run._warned(event)
        if isinstance(event, LrChanged):
            return replace(run, lr=event.lr, lr_asked=None)
        if isinstance(event, (Paused, Resumed)):
            return run._paused(event)
        if isinstance(event, ThreadsChanged):
            return replace(run, device=event.device)  # `--threads auto` moved
        if isinstance(event, RunStarted):
            return run._started(event, paused)
        if isinstance(event, RunFinished):
            return replace(run, result=event, status=RunState.FINISHED, ended_at=run.started_at + event.seconds)
        if isinstance(event, RunFailed) and run.result is None:
            return replace(run, result=event, status=RunState.FAILED, ended_at=now)
        return run

    def _is_news(self, event: Event | RunStatus) -> bool:
        return not self.live and (
            isinstance(event, RunStatus) or (isinstance(event, BatchProgress) and not self.watched)
        )

    def _watcher_said(self, status: str) -> RunProgress:
        """What a watcher sees of a run's process: an alarm, or running/paused while no event
        has said more (a run's end or a stop asked for from here stays)."""
        if status in WATCHER_ALARMS:
            return replace(self, status=WATCHER_ALARMS[status])
        if status in WATCHER_SAYS and self.status in FOLLOWS_WATCHER:
            return replace(self, status=WATCHER_SAYS[status])
        return self

    def _started(self, event: RunStarted, paused: bool) -> RunProgress:
        """A resumed run starts again in the same directory: its epochs continue, and what came
        after its checkpoint's epoch is forgotten. Its config says how long it is and in what
        batches (what the ETA counts in), whatever a view assumed before."""
        epochs = int(event.config.get("epochs", self.epochs))
        batch_size = int(event.config.get("batch_size", self.batch_size))
        batches = max(1, math.ceil(event.train_size / batch_size)) if event.train_size else self.batches
        return replace(
            self,
            epochs=epochs,
            batch_size=batch_size,
            status=RunState.PAUSED if paused else RunState.RUNNING,
            started_at=event.time or self.started_at,
            ended_at=None,
            epoch=event.start_epoch,
            latest=None,
            batches=batches,
            bests=tuple(b for b in self.bests if b[0] <= event.start_epoch),
            warnings=tuple(w for w in self.warnings if w.epoch <= event.start_epoch),
            device=event.device,
            step=event.step,
            run_dir=event.run_dir or "",
            result=None,
        )

    def _epoch_ended(self, event: EpochEnd) -> RunProgress:
        bests = (*self.bests, (event.epoch, event.val_accuracy)) if event.is_best else self.bests
        return replace(
            self,
            epoch=event.epoch,
            epoch_seconds=(*self.epoch_seconds, event.seconds),
            epoch_rates=(*self.epoch_rates, event.samples_per_s),
            lr=event.lr,
            bests=bests,
        )

    def _warned(self, warning: HealthWarning) -> RunProgress:
        said = ((w.epoch, w.code, w.layer) for w in self.warnings)
        if (warning.epoch, warning.code, warning.layer) in said:
            return self  # the same warning again (a watcher that rereads a resumed run): said once
        return replace(self, warnings=(*self.warnings, warning))

    def _paused(self, event: Paused | Resumed) -> RunProgress:
        """The run really paused or went on, whoever asked (this view, or a watcher of its run).
        Paused says where it stopped, exactly (a watcher's last progress may be older): the bar,
        the epoch and the ETA; the running loss is the epoch's only if the progress was."""
        run = self
        if isinstance(event, Paused) and self.latest is not None:
            same = self.latest.epoch == event.epoch
            latest = replace(self.latest, epoch=event.epoch, batch=event.batch)
            run = replace(self, latest=latest, means_current=same)
        if run.status in (RunState.RUNNING, RunState.PAUSED):
            run = replace(run, status=RunState.PAUSED if isinstance(event, Paused) else RunState.RUNNING)
        return run
