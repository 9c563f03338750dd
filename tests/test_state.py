"""RunProgress alone: events in, what every view shows out. No app, no clock, no torch."""

from __future__ import annotations

import pytest

from mlp_tui.core.events import (
    BatchProgress,
    EpochEnd,
    Evaluation,
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
from mlp_tui.views.state import RunProgress, RunState

T0 = 1_700_000_000.0


def started(start_epoch: int = 0, train_size: int = 1000, t: float = T0) -> RunStarted:
    return RunStarted(config={}, preset="tiny", device="CPU (2 threads)", summary="", parameters=1,
                      train_size=train_size, val_size=100, test_size=100, run_dir="runs/tiny-run",
                      start_epoch=start_epoch, time=t)  # fmt: skip


def batch(epoch: int, done: int, batches: int = 10, rate: float = 1000.0, lr: float | None = None) -> BatchProgress:
    return BatchProgress(epoch=epoch, epochs=5, batch=done, batches=batches, loss=0.5, accuracy=0.8,
                         samples_per_s=rate, lr=lr)  # fmt: skip


def epoch_end(epoch: int, best: bool = True, val: float = 0.9, seconds: float = 2.0, lr: float = 0.01) -> EpochEnd:
    return EpochEnd(epoch=epoch, epochs=5, train_loss=0.4, train_accuracy=0.85, val_loss=0.3, val_accuracy=val,
                    lr=lr, seconds=seconds, samples_per_s=500.0, is_best=best)  # fmt: skip


def warning(epoch: int, layer: int = 1) -> HealthWarning:
    return HealthWarning(epoch=epoch, code="dead-units", layer=layer, message="dead", advice="lower the lr")


def fold(run: RunProgress, *events, **kwargs) -> RunProgress:
    for event in events:
        run = run.apply(event, **kwargs)
    return run


def fresh(watched: bool = False) -> RunProgress:
    return RunProgress(epochs=5, batch_size=100, lr=0.1, started_at=T0 - 5, watched=watched)


def test_a_run_from_start_to_finish():
    run = fresh()
    assert run.status == RunState.STARTING and run.going and run.steerable and run.result is None
    run = fold(run, started())
    assert run.status == "running" and run.started_at == T0 and run.device == "CPU (2 threads)"
    assert run.batches == 10 and run.run_dir == "runs/tiny-run"  # 1000 images in batches of 100
    run = fold(run, batch(1, 5), epoch_end(1, val=0.9), batch(2, 5), epoch_end(2, best=False, val=0.8))
    assert (run.epoch, run.shown_epoch, run.epoch_seconds, run.epoch_rates) == (2, 2, (2.0, 2.0), (500.0, 500.0))
    assert (run.best_epoch, run.best_accuracy) == (1, 0.9)
    finished = RunFinished(status="completed", epochs_done=2, best_epoch=1, best_val_accuracy=0.9, test_loss=0.3,
                           test_accuracy=0.91, seconds=30.0)  # fmt: skip
    run = run.apply(finished)
    assert run.status == RunState.FINISHED and run.result is finished and not run.going and not run.steerable
    assert run.ended_at == T0 + 30.0 and run.elapsed(now=T0 + 1000) == 30.0


def test_apply_leaves_the_state_it_was_given_as_it_was():
    run = fold(fresh(), started())
    after = run.apply(epoch_end(1))
    assert run.epoch == 0 and run.epoch_seconds == () and after.epoch == 1
    evaluation = Evaluation(
        split="val", epoch=1, loss=0.3, accuracy=0.9, class_correct=(), class_total=(), confusion=()
    )
    assert run.apply(evaluation) is run  # nothing in it for the status line


def test_the_epoch_in_progress_and_the_time_left():
    run = fold(fresh(), started(), batch(1, 5))  # half of epoch 1 at 1000 img/s in batches of 100
    assert run.shown_epoch == 1 and run.epoch == 0
    assert run.time_left() == pytest.approx(0.5 + 4 * 1.0)  # the rest of epoch 1, then 4 at its pace
    run = run.apply(epoch_end(1, seconds=2.0))
    assert run.time_left() == pytest.approx(4 * 2.0)  # between epochs: the epochs left at their mean time


def test_pause_and_resume_whoever_asked():
    run = fold(fresh(), started(), batch(2, 3))
    paused = run.apply(Paused(epoch=2, batch=7, by="watcher"))
    assert paused.status == RunState.PAUSED and paused.latest is not None
    assert (paused.latest.epoch, paused.latest.batch, paused.means_current) == (2, 7, True)
    assert paused.apply(Resumed(epoch=2, batch=7, seconds=3.0)).status == RunState.RUNNING
    # A watcher's last report of an older epoch: the bar moves to where it paused, its means do not count.
    older = run.apply(Paused(epoch=3, batch=0))
    assert older.latest is not None and (older.latest.epoch, older.latest.batch, older.means_current) == (3, 0, False)
    # Asked for here: at once, before the run says so; a pause asked for while it loaded holds at its start.
    assert run.pausing().status == RunState.PAUSED and run.pausing().resuming().status == RunState.RUNNING
    assert fresh().apply(started(), paused=True).status == RunState.PAUSED


def test_a_stopping_run_is_not_steered_and_events_do_not_undo_the_stop():
    run = fold(fresh(), started()).stopping()
    assert run.status == RunState.STOPPING and run.going and not run.steerable
    assert run.apply(Paused(epoch=1, batch=2)).status == RunState.STOPPING
    assert run.apply(RunStatus("running")).status == RunState.STOPPING


def test_the_learning_rate_asked_for_until_the_run_takes_it():
    run = fold(fresh(), started()).asking_lr(0.5, True)
    assert run.lr == 0.1 and run.lr_asked == (0.5, True)
    run = run.apply(LrChanged(epoch=1, batch=3, lr=0.05, previous=0.1))
    assert run.lr == 0.05 and run.lr_asked is None
    assert run.apply(batch(1, 4, lr=0.04)).lr == 0.04  # a schedule moves it every batch
    assert run.apply(batch(1, 4)).lr == 0.05  # a report without it leaves it


def test_warnings_are_counted_once_and_a_resume_forgets_what_came_after_its_checkpoint():
    run = fold(fresh(), started(), epoch_end(1), warning(1), epoch_end(2), warning(2), warning(2, layer=2))
    assert len(run.warnings) == 3
    assert run.apply(warning(2)) is run  # the same warning again (a watcher rereading the run)
    run = fold(run, epoch_end(3, best=True, val=0.95), RunFinished(
        status="stopped", epochs_done=3, best_epoch=3, best_val_accuracy=0.95, test_loss=None, test_accuracy=None,
        seconds=9.0))  # fmt: skip
    resumed = run.apply(started(start_epoch=1, t=T0 + 100))
    assert resumed.status == RunState.RUNNING and resumed.result is None and resumed.ended_at is None
    assert resumed.epoch == 1 and resumed.best_epoch == 1 and [w.epoch for w in resumed.warnings] == [1]
    assert resumed.started_at == T0 + 100 and resumed.latest is None


def test_a_failure_is_the_first_end_only():
    run = fold(fresh(), started())
    failed = run.apply(RunFailed(reason="nan", message="loss became nan"), now=T0 + 7)
    assert failed.status == RunState.FAILED and failed.ended_at == T0 + 7 and not failed.going
    assert failed.apply(RunFailed(reason="error", message="later"), now=T0 + 9) is failed


def test_what_a_watcher_says_of_the_process():
    run = fresh(watched=True)
    assert run.apply(RunStatus("running")).status == RunState.RUNNING
    stale = run.apply(RunStatus("stale"))
    assert stale.status == RunState.STALE and stale.going
    assert stale.apply(RunStatus("paused")).status == RunState.PAUSED
    died = stale.apply(RunStatus("died"))
    assert died.status == RunState.DIED and not died.going
    assert died.apply(RunStatus("running")).status == RunState.DIED  # only the run's own events say more
    assert died.apply(RunStatus("completed")).status == RunState.DIED  # an ended run's status: its events say it


def test_news_starts_with_the_first_live_report():
    """Toasts are for news: a watcher's replay ends at its first RunStatus; the app's own run
    replays a resumed run's history without batch reports."""
    assert not fold(fresh(watched=True), started(), batch(1, 3)).live
    assert fold(fresh(watched=True), started(), batch(1, 3), RunStatus("running")).live
    assert not fold(fresh(), started(), epoch_end(1), warning(1)).live
    assert fold(fresh(), started(), batch(1, 3)).live


def test_threads_auto_renames_the_device():
    run = fold(fresh(), started(), ThreadsChanged(epoch=2, batch=40, threads=1, previous=2, why="faster",
                                                  device="CPU (1 thread, auto since epoch 2)"))  # fmt: skip
    assert run.device == "CPU (1 thread, auto since epoch 2)"


def test_a_printer_that_missed_the_start_learns_the_length_from_the_batch_reports():
    run = RunProgress(batch_size=100).apply(batch(5, 5))
    assert run.epochs == 5 and run.time_left() == pytest.approx(0.5)
