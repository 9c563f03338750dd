"""The training loop: it learns, emits events in a fixed order, obeys pause and stop from other
threads, and turns divergence into a clear failure instead of a crash or a poisoned checkpoint."""

from __future__ import annotations

import math
import threading

import pytest
import torch

from mlp_tui.core.events import (
    BatchProgress,
    EpochEnd,
    Evaluation,
    Event,
    HealthWarning,
    LayerHealth,
    RunFailed,
    RunFinished,
    RunStarted,
)  # fmt: skip
from mlp_tui.engine import trainer as engine
from mlp_tui.engine.trainer import Control
from mlp_tui.runs.store import RunStore, load_checkpoint

WAIT_S = 60  # generous upper bound for anything a thread has to reach; never slept through


@pytest.fixture
def every_batch(monkeypatch):
    """A progress event after every batch, so tests can act at an exact batch."""
    monkeypatch.setattr(engine, "TICK_S", 0.0)


def test_learns_the_synthetic_task_well_above_chance(synthetic, make_config, run_trainer):
    result, events, _ = run_trainer(make_config(hidden=(64,), epochs=3, batch_size=64), synthetic)
    assert isinstance(result, RunFinished) and result.status == "completed"
    assert result.epochs_done == 3
    assert result.test_accuracy is not None and result.test_accuracy > 0.8, (
        f"test accuracy {result.test_accuracy:.2%} (chance is 10%)"
    )
    epoch_ends = [e for e in events if isinstance(e, EpochEnd)]
    assert epoch_ends[-1].train_loss < epoch_ends[0].train_loss


def test_same_seed_gives_the_same_run(synthetic, make_config, run_trainer):
    first, _, _ = run_trainer(make_config(seed=3), synthetic)
    second, _, _ = run_trainer(make_config(seed=3), synthetic)
    assert first.test_loss == second.test_loss


def check_event_order(events, epochs: int) -> None:
    """RunStarted; per epoch: BatchProgress+, EpochEnd, Evaluation(val), LayerHealth, any warnings;
    Evaluation(test); RunFinished."""
    assert isinstance(events[0], RunStarted)
    i = 1
    for epoch in range(1, epochs + 1):
        progress = []
        while isinstance(events[i], BatchProgress):
            progress.append(events[i])
            i += 1
        assert progress, f"no progress events in epoch {epoch}"
        assert all(p.epoch == epoch and p.epochs == epochs for p in progress)
        batches = [p.batch for p in progress]
        assert batches == sorted(set(batches)), "batch numbers must increase"
        assert batches[-1] == progress[-1].batches, "the last progress event of an epoch is its last batch"
        end = events[i]
        assert isinstance(end, EpochEnd) and end.epoch == epoch, end
        i += 1
        val = events[i]
        assert isinstance(val, Evaluation) and val.split == "val" and val.epoch == epoch, val
        i += 1
        assert isinstance(events[i], LayerHealth) and events[i].epoch == epoch, events[i]
        i += 1
        while isinstance(events[i], HealthWarning):
            i += 1
    test = events[i]
    assert isinstance(test, Evaluation) and test.split == "test"
    assert isinstance(events[i + 1], RunFinished)
    assert len(events) == i + 2, "RunFinished must be the last event"


def test_events_come_in_order(synthetic, make_config, run_trainer, every_batch):
    config = make_config(epochs=3, batch_size=256)
    result, events, trainer = run_trainer(config, synthetic)
    check_event_order(events, epochs=3)
    started = events[0]
    assert started.train_size == 1800 and started.val_size == 200 and started.test_size == 500
    assert started.parameters == sum(p.numel() for p in trainer.model.parameters())
    progress = [e for e in events if isinstance(e, BatchProgress)]
    assert len(progress) == 3 * trainer.steps_per_epoch == 3 * math.ceil(1800 / 256)
    test = events[-2]
    assert test.epoch == result.best_epoch
    assert sum(test.class_total) == 500
    assert test.accuracy == result.test_accuracy


def test_events_come_in_order_with_the_default_tick(synthetic, make_config, run_trainer):
    _, events, _ = run_trainer(make_config(epochs=2), synthetic)
    check_event_order(events, epochs=2)


# -- control from other threads ------------------------------------------------------------------


def run_in_thread(trainer):
    results = []
    thread = threading.Thread(target=lambda: results.append(trainer.run()), daemon=True)
    thread.start()
    return thread, results


def test_stop_from_another_thread_ends_the_run_and_saves_a_partial_checkpoint(
    synthetic, make_config, tmp_path, every_batch
):
    control = Control()
    first_progress, stop_sent = threading.Event(), threading.Event()
    events = []

    def emit(event):
        events.append(event)
        if isinstance(event, BatchProgress) and not first_progress.is_set():
            first_progress.set()
            stop_sent.wait(WAIT_S)  # hold the loop here until the other thread has asked to stop

    store = RunStore(tmp_path / "run")
    trainer = engine.Trainer(
        make_config(epochs=3), synthetic, torch.device("cpu"), emit=emit, control=control, store=store
    )
    thread, results = run_in_thread(trainer)
    assert first_progress.wait(WAIT_S)
    control.stop()
    stop_sent.set()
    thread.join(WAIT_S)
    assert not thread.is_alive()
    store.close()

    result = results[0]
    assert isinstance(result, RunFinished) and result.status == "stopped"
    assert result.epochs_done == 0
    assert result.test_accuracy is None, "no finished epoch, nothing to test"
    assert isinstance(events[-1], RunFinished)
    assert sum(isinstance(e, BatchProgress) for e in events) == 1
    assert not any(isinstance(e, EpochEnd) for e in events)
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["partial_epoch"] is True
    assert last["epoch"] == 0


def test_stop_in_a_later_epoch_still_reports_on_the_test_set(
    synthetic, make_config, tmp_path, run_trainer, every_batch
):
    control = Control()

    def on_event(event):
        if isinstance(event, BatchProgress) and event.epoch == 2 and event.batch == 2:
            control.stop()

    store = RunStore(tmp_path / "run")
    result, events, _ = run_trainer(make_config(epochs=5), synthetic, store=store, control=control, on_event=on_event)
    assert result.status == "stopped" and result.epochs_done == 1
    assert [e.batch for e in events if isinstance(e, BatchProgress) and e.epoch == 2] == [1, 2]
    assert isinstance(events[-2], Evaluation) and events[-2].split == "test"
    assert result.test_accuracy is not None
    last = load_checkpoint(store.last_checkpoint)
    assert last["partial_epoch"] is True and last["epoch"] == 1
    assert load_checkpoint(store.best_checkpoint)["epoch"] == 1


def test_pause_blocks_training_until_resume(synthetic, make_config, every_batch):
    blocked = threading.Event()

    class WatchedControl(Control):
        def wait_if_paused(self, *args):
            if self.paused:
                blocked.set()  # the loop has reached a batch boundary while paused
            return super().wait_if_paused(*args)

    control = WatchedControl()
    progress_while_paused = []
    progress = []

    def emit(event):
        if isinstance(event, BatchProgress):
            progress.append(event)
            if len(progress) == 1:
                control.pause()
            elif control.paused:
                progress_while_paused.append(event)

    trainer = engine.Trainer(make_config(epochs=2), synthetic, torch.device("cpu"), emit=emit, control=control)
    thread, results = run_in_thread(trainer)
    assert blocked.wait(WAIT_S), "the loop never waited at a batch boundary"
    assert thread.is_alive()
    assert len(progress) == 1, "training went on while paused"
    assert control.paused
    control.resume()
    thread.join(WAIT_S)
    assert not thread.is_alive()
    assert results[0].status == "completed" and results[0].epochs_done == 2
    assert progress_while_paused == []
    assert len(progress) == 2 * trainer.steps_per_epoch


def test_stop_releases_a_paused_run(synthetic, make_config, every_batch):
    blocked = threading.Event()

    class WatchedControl(Control):
        def wait_if_paused(self, *args):
            if self.paused:
                blocked.set()
            return super().wait_if_paused(*args)

    control = WatchedControl()

    def emit(event):
        if isinstance(event, BatchProgress) and event.batch == 1 and event.epoch == 1:
            control.pause()

    trainer = engine.Trainer(make_config(epochs=2), synthetic, torch.device("cpu"), emit=emit, control=control)
    thread, results = run_in_thread(trainer)
    assert blocked.wait(WAIT_S)
    control.stop("stopped")
    thread.join(WAIT_S)
    assert not thread.is_alive()
    assert results[0].status == "stopped"


# -- divergence --------------------------------------------------------------------------------


def test_huge_learning_rate_fails_with_nan_and_advice(synthetic, make_config, tmp_path, run_trainer):
    store = RunStore(tmp_path / "run")
    result, events, _ = run_trainer(make_config(optimizer="sgd", lr=1e6, epochs=3), synthetic, store=store)
    assert isinstance(result, RunFailed) and result.reason == "nan"
    assert events[-1] == result
    assert not any(isinstance(e, RunFinished) for e in events)
    assert result.epoch == 1 and result.batch is not None and result.batch >= 1
    assert f"at epoch 1, batch {result.batch}" in result.message
    assert "smaller learning rate" in result.message and "--lr 1e+05" in result.message
    assert not store.best_checkpoint.exists(), "no epoch finished, so there is no best model"


def test_nan_in_a_later_epoch_names_the_batch_and_keeps_best_from_a_good_epoch(synthetic, make_config, tmp_path):
    store = RunStore(tmp_path / "run")
    events: list[Event] = []
    trainer = engine.Trainer(make_config(epochs=4), synthetic, torch.device("cpu"), emit=events.append, store=store)
    real_loss, calls = trainer.step.lossf, [0]
    poisoned_call = trainer.steps_per_epoch + 3  # epoch 2, batch 3

    def poisoned(out, target):
        calls[0] += 1
        loss = real_loss(out, target)
        return loss * float("nan") if calls[0] == poisoned_call else loss

    trainer.step.lossf = poisoned  # the per-batch step computes the training loss
    result = trainer.run()
    store.close()

    assert isinstance(result, RunFailed) and result.reason == "nan"
    assert (result.epoch, result.batch) == (2, 3)
    assert "epoch 2, batch 3" in result.message
    assert "smaller learning rate" in result.message
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1]
    for name in ("best.pt", "last.pt"):
        checkpoint = load_checkpoint(tmp_path / "run" / name)
        assert checkpoint["epoch"] == 1, name
        assert all(torch.isfinite(t).all() for t in checkpoint["model"].values()), f"{name} holds NaN weights"


def test_nan_on_validation_is_caught_before_best_is_saved(synthetic, make_config, tmp_path, monkeypatch):
    """Finite training losses but a model that outputs NaN at evaluation: still a NaN failure."""
    store = RunStore(tmp_path / "run")
    real_evaluate = engine.evaluate

    def evaluate(model, x, y, config, split, epoch, **kw):
        result = real_evaluate(model, x, y, config, split, epoch, **kw)
        if split == "val" and epoch == 2:
            result.loss = float("nan")
        return result

    monkeypatch.setattr(engine, "evaluate", evaluate)
    events: list[Event] = []
    trainer = engine.Trainer(make_config(epochs=3), synthetic, torch.device("cpu"), emit=events.append, store=store)
    result = trainer.run()
    store.close()
    assert isinstance(result, RunFailed) and result.reason == "nan" and result.epoch == 2
    assert load_checkpoint(store.best_checkpoint)["epoch"] == 1


def test_an_unexpected_error_ends_in_run_failed_and_an_error_log(synthetic, make_config, tmp_path):
    store = RunStore(tmp_path / "run")
    events: list[Event] = []
    trainer = engine.Trainer(make_config(), synthetic, torch.device("cpu"), emit=events.append, store=store)

    def broken(out, target):
        raise RuntimeError("something broke inside the loss")

    trainer.step.lossf = broken
    result = trainer.run()
    store.close()
    assert isinstance(result, RunFailed) and result.reason == "error"
    assert "something broke inside the loss" in result.message
    assert events[-1] == result
    assert "something broke inside the loss" in (tmp_path / "run" / "error.log").read_text()


def test_patience_stops_early_after_epochs_without_improvement(synthetic, make_config, run_trainer, monkeypatch):
    """Validation accuracy 50, 60, 55, 58 %: with patience 2 the run stops after epoch 4 and the
    test report uses the weights of epoch 2, the best one."""
    accuracies = {1: 0.50, 2: 0.60, 3: 0.55, 4: 0.58}
    real_evaluate = engine.evaluate

    def evaluate(model, x, y, config, split, epoch, **kw):
        result = real_evaluate(model, x, y, config, split, epoch, **kw)
        if split == "val":
            result.accuracy = accuracies.get(epoch, 0.0)
        return result

    monkeypatch.setattr(engine, "evaluate", evaluate)
    result, events, _ = run_trainer(make_config(epochs=10, patience=2), synthetic)
    assert result.status == "early-stopped"
    assert result.epochs_done == 4
    assert result.best_epoch == 2 and result.best_val_accuracy == 0.60
    assert [e.is_best for e in events if isinstance(e, EpochEnd)] == [True, True, False, False]
    assert events[-2].split == "test" and events[-2].epoch == 2


def test_training_process_streams_events_and_stops_cleanly_when_the_parent_goes(mnist_root, make_config, tmp_path):
    """The app trains in a child process: its events arrive in order, and if the app goes away
    (stdin closes) the run stops after the batch, saves its last checkpoint and says so."""
    from mlp_tui.core.events import BatchProgress, RunFinished, RunStarted
    from mlp_tui.runs.child import ChildRun

    config = make_config(hidden=(64,), epochs=50, subset=20000, batch_size=64)
    run = ChildRun(config, "unit", mnist_root, tmp_path)
    events = []
    for event in run.events():
        events.append(event)
        if isinstance(event, BatchProgress) and len(events) == 2:
            run.close()  # what the app's exit does to the child's stdin
    assert isinstance(events[0], RunStarted)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "stopped"
    assert events[-1].epochs_done < 50
    (run_dir,) = tmp_path.glob("*-unit")
    assert (run_dir / "last.pt").is_file() and (run_dir / "metrics.jsonl").is_file()


@pytest.mark.parametrize("fault", [BrokenPipeError("the terminal went away"), ValueError("a bug in the view")])
def test_a_view_that_breaks_does_not_end_the_run(synthetic, make_config, tmp_path, fault):
    """A closed pipe or a hung-up terminal stops the printing, not the training: the run
    directory still records every epoch and the end. A view's own bug is told in error.log."""
    from mlp_tui.engine.trainer import Trainer
    from mlp_tui.runs.store import RunStore, read_events

    def broken_view(event):
        if isinstance(event, EpochEnd):
            raise fault

    store = RunStore(tmp_path / "run")
    result = Trainer(make_config(epochs=3), synthetic, torch.device("cpu"), emit=broken_view, store=store).run()
    store.close()
    assert isinstance(result, RunFinished) and result.status == "completed" and result.epochs_done == 3
    kinds = [r["event"] for r in read_events(tmp_path / "run" / "metrics.jsonl")]
    assert kinds.count("epoch_end") == 3 and kinds[-1] == "run_finished"
    log = tmp_path / "run" / "error.log"
    if isinstance(fault, OSError):
        assert not log.exists()
    else:
        assert "The view stopped showing this run" in log.read_text() and "a bug in the view" in log.read_text()


def test_pause_from_the_app_is_visible_to_other_processes(synthetic, make_config, tmp_path):
    """The app pauses its training process over a pipe; `runs` and `watch` read the run
    directory, so the pause must show there too (not 'stale')."""
    from mlp_tui.runs.launch import Prepared, wired_trainer
    from mlp_tui.runs.status import read_command
    from mlp_tui.runs.store import RunStore

    store = RunStore(tmp_path / "run")
    control = Control()
    on_disk: list[str | None] = []  # what another process would read, after each key (the view's errors are swallowed)

    def view(event):
        if isinstance(event, BatchProgress) and not on_disk:
            control.pause()  # as the app's key does, from the UI side
            on_disk.append(read_command(store.path))
            control.resume()
            on_disk.append(read_command(store.path))

    prepared = Prepared(torch.device("cpu"), "CPU", synthetic)
    result = wired_trainer(make_config(epochs=1), "unit", prepared, store, view, control).run()
    store.close()
    assert on_disk == ["pause", "resume"]
    assert isinstance(result, RunFinished) and result.status == "completed", result


def test_compiled_model_trains_like_the_plain_one_and_saves_plain_checkpoints(
    synthetic, make_config, run_trainer, tmp_path
):
    """--compile (meant for GPUs) works on the CPU too: same learning, checkpoints that load into
    an ordinary model (no torch.compile wrapper names in the keys)."""
    from mlp_tui.engine.model import build_model

    config = make_config(batch_size=120)  # 1800 / 120: every batch the same shape, one compile
    eager, _, _ = run_trainer(config, synthetic)
    store = RunStore(tmp_path / "run")
    compiled, _, _ = run_trainer(make_config(batch_size=120, compile=True), synthetic, store=store)
    assert isinstance(compiled, RunFinished) and compiled.status == "completed"
    assert abs(compiled.test_accuracy - eager.test_accuracy) < 0.05
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    plain = build_model(config)
    assert set(best["model"]) == set(plain.state_dict())
    plain.load_state_dict(best["model"])


@pytest.mark.parametrize("overrides", [{}, {"dropout": 0.2, "augment": 0.5, "elastic": 1.0, "loss": "mse"}])
def test_no_value_is_read_back_to_the_host_per_batch(synthetic, make_config, host_reads, overrides):
    """On a GPU every read of a tensor's value (.item(), .tolist(), bool(), .cpu()) waits for the
    device. Between progress ticks the loop must do none: the count of reads in an epoch must not
    grow with its number of batches."""
    reads = host_reads

    def reads_in_one_epoch(batch_size: int) -> int:
        trainer = engine.Trainer(make_config(batch_size=batch_size, **overrides), synthetic, torch.device("cpu"))
        trainer.progress_interval = float("inf")  # only the end-of-epoch tick
        reads.clear()
        trainer._train_epoch()
        return len(reads)

    few, many = reads_in_one_epoch(600), reads_in_one_epoch(60)  # 3 and 30 batches
    assert few == many, f"{many - few} extra host reads for 27 extra batches"
