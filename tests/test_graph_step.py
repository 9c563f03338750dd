"""The captured training step (engine/graph_step.py): on a CPU its body runs eagerly and must
train exactly as the eager step does; on a GPU (tests marked `cuda`, skipped without one) the
replayed graph must give the eager step's parameters, and a captured run the eager run's curve."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from mlp_tui.core.events import EpochEnd, HealthWarning, LrChanged, RunFailed, RunFinished, RunStarted
from mlp_tui.engine import graph_step, trainer
from mlp_tui.engine.data import split_dataset, synthetic_digits
from mlp_tui.engine.graph_step import WARMUP, CapturedStep, StepPlan, plan_step
from mlp_tui.engine.model import build_model, build_optimizer
from mlp_tui.engine.step import TrainStep
from mlp_tui.engine.trainer import Trainer

CPU, CUDA = torch.device("cpu"), torch.device("cuda")
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _force_capture(monkeypatch) -> None:
    """Trainers here build the captured step on the CPU (its body then runs eagerly)."""
    monkeypatch.setattr(trainer, "plan_step", lambda *a, **k: StepPlan(True, "captured"))


def _train(config, data, device=CPU, **kwargs):
    events: list = []
    run = Trainer(config, data, device, emit=events.append, **kwargs)
    result = run.run()
    return result, events, run


def test_plan_names_the_path_on_a_gpu_and_nothing_on_a_cpu(make_config):
    config = make_config()
    assert plan_step(config, CPU, 10) == StepPlan(False, None)
    assert plan_step(config, CUDA, 10) == StepPlan(True, "captured")
    assert plan_step(config, CUDA, 10, capture=False).words == "eager (not asked for)"
    assert plan_step(make_config(optimizer="adagrad"), CUDA, 10).words == "eager (adagrad has no graph form here)"
    sgd = make_config(optimizer="momentum", schedule="onecycle")
    assert plan_step(sgd, CUDA, 10).words == "eager (one-cycle moves momentum's momentum every batch)"
    assert plan_step(make_config(compile=True), CUDA, 10).words == "eager (--compile)"
    assert plan_step(config, CUDA, 1).words == "eager (one batch per epoch)"


@pytest.mark.parametrize(
    "overrides",
    [
        {"optimizer": "adam", "schedule": "onecycle", "dropout": 0.2, "augment": 0.5, "elastic": 1.0, "l1": 1e-5},
        {"optimizer": "sgd", "schedule": "cosine", "lr": 0.05, "loss": "mse", "batch_norm": True},
        {"optimizer": "nesterov", "lr": 0.05, "weight_decay": 1e-3, "loss": "nll"},
        {"optimizer": "adamw", "weight_decay": 0.05, "schedule": "cosine"},
        {"optimizer": "adam", "weight_decay": 1e-3, "health": False},
    ],
)
def test_the_captured_body_trains_as_the_eager_step(synthetic, make_config, monkeypatch, overrides):
    """Same seed, same batches, same random draws: the body a graph would hold (in-graph gather,
    batch counter, learning rate as a tensor, refreshed for the schedule and a planned change)
    ends where the eager step ends, epoch by epoch."""
    config = make_config(epochs=2, lr_changes=((2, 4, 0.0005),), **overrides)
    eager, eager_events, eager_run = _train(config, synthetic)
    _force_capture(monkeypatch)
    captured, events, run = _train(config, synthetic)
    assert isinstance(run.step, CapturedStep) and isinstance(captured, type(eager))
    assert any(isinstance(e, LrChanged) for e in events)
    ends = [(e.train_loss, e.val_accuracy) for e in events if isinstance(e, EpochEnd)]
    eager_ends = [(e.train_loss, e.val_accuracy) for e in eager_events if isinstance(e, EpochEnd)]
    for (loss, acc), (eager_loss, eager_acc) in zip(ends, eager_ends, strict=True):
        assert loss == pytest.approx(eager_loss, rel=1e-4)
        assert acc == pytest.approx(eager_acc, abs=0.006)  # at most one validation image apart
    for p, q in zip(run.model.parameters(), eager_run.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-3, atol=1e-5)
    torch.testing.assert_close(run.step.batch_losses, eager_run.step.batch_losses, rtol=1e-3, atol=1e-5)


def _stopped_mid_epoch(config, data) -> dict:
    """A run's state, stopped in its second epoch, copied (loading may share its tensors)."""
    run = Trainer(config, data, CPU)
    batches = [0]

    def stop_later(epoch: int, batch: int) -> None:
        batches[0] += 1
        if batches[0] == run.steps_per_epoch + 7:
            run.control.stop()

    run.before_batch = stop_later  # type: ignore[method-assign]
    run.run()
    return run.state_dict()


def test_a_resumed_captured_run_follows_its_schedule_as_the_eager_one(synthetic, make_config, monkeypatch):
    """Loading a checkpoint replaces the optimizer's groups: the graph's rate must still follow
    the schedule afterwards (it did not: it kept the rate of the run's first batch)."""
    config = make_config(epochs=3, schedule="onecycle", optimizer="adam", lr=3e-3)
    state = _stopped_mid_epoch(config, synthetic)
    eager = Trainer(config, synthetic, CPU)
    eager.restore(copy.deepcopy(state))
    eager.run()
    _force_capture(monkeypatch)
    captured = Trainer(config, synthetic, CPU)
    captured.restore(copy.deepcopy(state))
    captured.run()
    assert isinstance(captured.step, CapturedStep)
    for p, q in zip(captured.model.parameters(), eager.model.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-3, atol=1e-5)


def test_a_nan_in_a_captured_batch_names_that_batch(synthetic, make_config, monkeypatch):
    """The divergence check reads the losses the body writes by its batch counter."""
    _force_capture(monkeypatch)
    run = Trainer(make_config(epochs=3), synthetic, CPU)
    real_loss, calls = run.step.lossf, [0]

    def poisoned(out, target):  # epoch 2, batch 6: a captured batch (past the warm-up)
        calls[0] += 1
        loss = real_loss(out, target)
        return loss * float("nan") if calls[0] == run.steps_per_epoch + 6 else loss

    run.step.lossf = poisoned
    result = run.run()
    assert isinstance(result, RunFailed) and (result.epoch, result.batch) == (2, 6)


def test_the_captured_body_reads_nothing_back_per_batch(synthetic, make_config, monkeypatch, host_reads):
    """What a replay does on the host between progress ticks: no value read from the device."""
    _force_capture(monkeypatch)
    reads = host_reads

    def reads_in_one_epoch(batch_size: int) -> int:
        config = make_config(batch_size=batch_size, schedule="onecycle", dropout=0.2)
        run = Trainer(config, synthetic, CPU)
        run.progress_interval = float("inf")
        reads.clear()
        run._train_epoch()
        return len(reads)

    few, many = reads_in_one_epoch(600), reads_in_one_epoch(60)
    assert few == many, f"{many - few} extra host reads for 27 extra batches"


def test_a_graph_given_up_is_said_once_and_training_goes_on_eagerly(synthetic, make_config, monkeypatch):
    config = make_config(epochs=3)
    eager, _, _ = _train(config, synthetic)
    _force_capture(monkeypatch)
    monkeypatch.setattr(graph_step, "state_on_device", lambda optimizer: False)
    result, events, _ = _train(config, synthetic)
    told = [e for e in events if isinstance(e, HealthWarning)]
    assert [(w.epoch, w.code) for w in told] == [(1, "eager-step")]
    assert "the optimizer keeps its state on the host" in told[0].message and "eager step" in told[0].advice
    assert isinstance(result, RunFinished) and result.test_accuracy == eager.test_accuracy


def test_the_header_says_nothing_of_graphs_on_a_cpu(synthetic, make_config):
    _, events, _ = _train(make_config(epochs=1), synthetic)
    assert next(e for e in events if isinstance(e, RunStarted)).step is None


# -- on a GPU -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def on_gpu():
    x, y, tx, ty = synthetic_digits(n_train=4000, n_test=500, seed=0)
    return split_dataset(x, y, tx, ty, val_split=0.1, seed=0, device=CUDA, name="synthetic")


@cuda
@pytest.mark.parametrize("schedule", ["constant", "onecycle"])
def test_a_replayed_graph_gives_the_eager_steps_parameters(on_gpu, make_config, schedule):
    """From the same state, one batch (no dropout, no distortions): replayed graph vs eager."""
    config = make_config(device="cuda", hidden=(256, 256), batch_size=128, schedule=schedule, epochs=1)
    torch.manual_seed(0)
    model = build_model(config).to(CUDA)
    optimizer = build_optimizer(model, config, CUDA)
    scheduler = trainer.make_scheduler(optimizer, config, 100)
    step = CapturedStep.from_config(config, on_gpu, model, optimizer, scheduler)
    order = torch.randperm(len(on_gpu.train_x), device=CUDA)
    step.set_order(order)
    bs = config.batch_size
    for b in range(WARMUP):
        step(b, order[b * bs : (b + 1) * bs])
    twin = copy.deepcopy(model)
    twin_opt = build_optimizer(twin, config, CUDA)
    twin_sched = trainer.make_scheduler(twin_opt, config, 100)  # first: a new schedule resets the rate
    twin_opt.load_state_dict(copy.deepcopy(optimizer.state_dict()))  # a copy: loading may share tensors
    if scheduler is not None and twin_sched is not None:
        twin_sched.load_state_dict(scheduler.state_dict())
    eager = TrainStep.from_config(config, on_gpu, twin, twin_opt, twin_sched)
    b = WARMUP
    step(b, order[b * bs : (b + 1) * bs])
    eager(b, order[b * bs : (b + 1) * bs])
    assert step.graph is not None and step.failed is None
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)
    step(b + 1, order[(b + 1) * bs : (b + 2) * bs])  # a second replay moves on to the next batch
    eager(b + 1, order[(b + 1) * bs : (b + 2) * bs])
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)


@cuda
def test_a_captured_run_follows_the_eager_runs_curve(on_gpu, make_config):
    config = make_config(
        device="cuda", hidden=(256, 256), batch_size=128, epochs=3, dropout=0.2, augment=0.5, schedule="onecycle",
        optimizer="adam", lr=3e-3, lr_changes=((2, 5, 1e-3),),
    )  # fmt: skip
    eager, eager_events, _ = _train(config, on_gpu, CUDA, capture=False)
    captured, events, run = _train(config, on_gpu, CUDA)
    assert not isinstance(captured, RunFailed), captured
    started = next(e for e in events if isinstance(e, RunStarted))
    assert started.step == "captured" and run.step.graph is not None and run.step.failed is None
    losses = [e.train_loss for e in events if isinstance(e, EpochEnd)]
    eager_losses = [e.train_loss for e in eager_events if isinstance(e, EpochEnd)]
    assert losses == pytest.approx(eager_losses, rel=0.15)
    assert captured.test_accuracy == pytest.approx(eager.test_accuracy, abs=0.03)


@cuda
def test_a_captured_run_resumes_mid_epoch(on_gpu, make_config, tmp_path):
    """Stopped mid-epoch and restored from its checkpoint state, a captured run finishes."""
    config = make_config(device="cuda", hidden=(128,), batch_size=64, epochs=2, dropout=0.1)
    first = Trainer(config, on_gpu, CUDA)
    calls = {"n": 0}

    def stop_after_some(epoch: int, batch: int) -> None:
        calls["n"] += 1
        if calls["n"] == 30:
            first.control.stop()

    first.before_batch = stop_after_some  # type: ignore[method-assign]
    first.run()
    state = first.state_dict()
    assert state["mid_epoch"]["batches_done"] == 30  # the batch under way when the stop came still ran
    second = Trainer(dataclasses.replace(config), on_gpu, CUDA)
    second.restore(state)
    result = second.run()
    assert not isinstance(result, RunFailed) and result.epochs_done == 2
    assert isinstance(second.step, CapturedStep) and second.step.graph is not None
