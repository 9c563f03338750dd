"""Layer health and warnings: each textbook failure provoked on purpose says so in plain words,
a healthy recipe says nothing, and the learning rate can be changed while a run trains."""

from __future__ import annotations

import dataclasses
import subprocess
import time

import pytest
import torch

from mlp_tui.core.config import RunConfig, build_config
from mlp_tui.core.events import BatchProgress, HealthWarning, LayerHealth, LrChanged
from mlp_tui.engine.control import Control
from mlp_tui.engine.data import load_dataset
from mlp_tui.runs.status import write_command
from mlp_tui.runs.store import RunStore, load_checkpoint, read_events

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def mnist_subsets(mnist_root):
    cache = {}

    def get(subset: int, seed: int = 0):
        if (subset, seed) not in cache:
            cache[subset, seed] = load_dataset("mnist", mnist_root, val_split=0.1, seed=seed, device=CPU, subset=subset)
        return cache[subset, seed]

    return get


def train(run_trainer, data, **settings):
    config = build_config(settings | {"device": "cpu"}, base=RunConfig())
    result, events, _trainer = run_trainer(config, data)
    warnings = [e for e in events if isinstance(e, HealthWarning)]
    return result, events, warnings


def codes(warnings) -> list[str]:
    return [w.code for w in warnings]


def test_every_epoch_reports_each_layers_health(run_trainer, mnist_subsets):
    _, events, warnings = train(run_trainer, mnist_subsets(3000), hidden=[64, 32], epochs=2, batch_size=64)
    health = [e for e in events if isinstance(e, LayerHealth)]
    assert [h.epoch for h in health] == [1, 2]
    first, second, output = health[-1].layers
    assert (first.units, second.units, output.units) == (64, 32, 10)
    for layer in (first, second):
        assert layer.dead is not None and layer.act_std is not None
        assert 0 <= layer.dead <= 1 and layer.saturated is None and layer.act_std > 0
        assert layer.weight_norm > 0 and layer.grad_norm > 0 and 1e-5 < layer.update_ratio < 1e-1
    assert output.dead is None and output.act_mean is None  # no activation after the output layer
    assert not warnings


def test_deep_sigmoid_net_with_sgd_warns_of_vanishing_gradients(run_trainer, mnist_subsets):
    _, _, warnings = train(run_trainer, mnist_subsets(3000), hidden=[256] * 5, activation="sigmoid",
                           optimizer="sgd", lr=0.1, epochs=1)  # fmt: skip
    [vanishing] = [w for w in warnings if w.code == "vanishing-gradients"]
    assert "gradients reaching layer 1 are" in vanishing.message and "smaller than at the output" in vanishing.message
    assert "sigmoid in a deep net" in vanishing.message and vanishing.advice == "try relu or batch norm"
    assert vanishing.epoch == 1 and vanishing.layer == 1


def test_relu_net_with_a_huge_learning_rate_warns_of_dead_units(run_trainer, mnist_subsets):
    _, events, warnings = train(run_trainer, mnist_subsets(3000), hidden=[256, 256], lr=0.05, epochs=2)
    dead = [w for w in warnings if w.code == "dead-units"]
    assert dead and "of units never fire" in dead[0].message and "leaky_relu" in dead[0].advice
    assert dead[0].message.startswith(f"layer {dead[0].layer}: ")
    # Each warning is told once, when it starts, not every epoch.
    assert len({(w.code, w.layer) for w in warnings}) == len(warnings)
    health = [e for e in events if isinstance(e, LayerHealth)][-1]
    assert len(health.layers[dead[0].layer - 1].dead_units) >= 0.5 * 256


def test_large_net_on_a_small_subset_warns_of_overfitting(run_trainer, mnist_subsets):
    result, _, warnings = train(run_trainer, mnist_subsets(1000), hidden=[1024, 1024], loss="cross-entropy",
                                lr=0.002, batch_size=64, epochs=8)  # fmt: skip
    [over] = [w for w in warnings if w.code == "overfitting"]
    assert "validation loss has risen for" in over.message and "while training loss falls" in over.message
    assert f"best weights kept from epoch {result.best_epoch}" in over.message or "best weights kept" in over.message
    assert over.advice == "try dropout or fewer units"


def test_a_one_unit_net_warns_of_underfitting(run_trainer, mnist_subsets):
    _, _, warnings = train(run_trainer, mnist_subsets(3000), hidden=[1], epochs=4, batch_size=64)
    assert "underfitting" in codes(warnings)


@pytest.mark.parametrize(
    "settings, expected, words",
    [
        ({"activation": "sigmoid", "optimizer": "sgd", "lr": 3.0}, {"exploding-updates"},
         ["each step changes the weights by", "lower the learning rate"]),
        ({"activation": "sigmoid", "optimizer": "sgd", "lr": 10.0}, {"saturated"},
         ["of units are saturated (sigmoid outputs pinned at their limits)", "try relu, batch norm"]),
        ({"optimizer": "sgd", "lr": 1e-6}, {"slow-updates"}, ["raise the learning rate"]),
    ],
)  # fmt: skip
def test_learning_rates_far_too_high_or_low_are_named(run_trainer, mnist_subsets, settings, expected, words):
    _, _, warnings = train(run_trainer, mnist_subsets(3000), hidden=[64], loss="cross-entropy", epochs=1, **settings)
    assert expected <= set(codes(warnings))
    text = " ".join(w.text for w in warnings)
    assert all(word in text for word in words)


def test_the_dropout_preset_raises_no_warning(mnist_root, tmp_path, cli_env, mlp_tui_cmd):
    proc = subprocess.run([*mlp_tui_cmd, "run", "--preset", "dropout", "--headless", "--runs", str(tmp_path),
                           "--data-dir", str(mnist_root)],
                          env=cli_env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stdout
    [run_dir] = list(tmp_path.iterdir())
    kinds = [r["event"] for r in read_events(run_dir / "metrics.jsonl")]
    assert kinds.count("layer_health") == 5 and "health_warning" not in kinds


def test_health_can_be_turned_off(run_trainer, synthetic, make_config):
    _, events, _ = run_trainer(make_config(health=False), synthetic)
    assert not any(isinstance(e, (LayerHealth, HealthWarning)) for e in events)


# -- the learning rate, live ----------------------------------------------------------------


@pytest.mark.parametrize("schedule", ["none", "onecycle", "cosine"])
def test_a_learning_rate_sent_mid_run_is_taken_at_the_next_batch_and_kept(
    run_trainer, synthetic, make_config, tmp_path, schedule, monkeypatch
):
    from mlp_tui.engine import trainer as engine

    monkeypatch.setattr(engine, "TICK_S", 0.0)  # a progress event after every batch
    control = Control()
    sent: list[int] = []

    def on_event(event):
        if isinstance(event, BatchProgress) and event.epoch == 1 and not sent:
            sent.append(event.batch)
            control.set_lr(0.0123)  # as the app's key does, between two batches

    store = RunStore(tmp_path / "run")
    config = make_config(epochs=2, schedule=schedule, lr=0.003)
    result, events, trainer = run_trainer(config, synthetic, control=control, store=store, on_event=on_event)
    [changed] = [e for e in events if isinstance(e, LrChanged)]
    assert (changed.lr, changed.epoch, changed.batch) == (0.0123, 1, sent[0]) and changed.previous > 0
    assert result.status == "completed"
    if schedule == "none":
        assert trainer.optimizer.param_groups[0]["lr"] == 0.0123
    elif schedule == "onecycle":  # the cycle is scaled to pass through the new rate
        assert trainer.optimizer.param_groups[0]["max_lr"] == pytest.approx(0.003 * 0.0123 / changed.previous)
    # A resumed run keeps it: the checkpoint holds the optimizer's rate as changed.
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["optimizer"]["param_groups"][0]["lr"] == pytest.approx(trainer.optimizer.param_groups[0]["lr"])
    assert "lr_changed" in [r["event"] for r in read_events(tmp_path / "run" / "metrics.jsonl")]


def test_a_watcher_changes_the_learning_rate_of_a_headless_run(mnist_root, tmp_path, cli_env, mlp_tui_cmd):
    run_dir = tmp_path / "run"
    cmd = [*mlp_tui_cmd, "run", "--preset", "tiny", "--headless", "--epochs", "40", "--subset", "20000",
           "--run-dir", str(run_dir), "--data-dir", str(mnist_root)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 120
    metrics = run_dir / "metrics.jsonl"
    while not (metrics.exists() and '"epoch_end"' in metrics.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.1)
    write_command(run_dir, "lr 0.0042")  # what `watch` sends
    while "lr_changed" not in metrics.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, "the run never took the new rate"
        time.sleep(0.1)
    changed = next(r for r in read_events(metrics) if r["event"] == "lr_changed")

    def later() -> list[float]:
        return [r["lr"] for r in read_events(metrics) if r["event"] == "epoch_end" and r["epoch"] >= changed["epoch"]]

    while not later():  # the epoch in which it changed ends with the new rate
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    write_command(run_dir, "stop")
    out, _ = proc.communicate(timeout=120)
    assert "learning rate 0.001 -> 0.0042 (by hand" in out
    assert changed["lr"] == 0.0042 and set(later()) == {0.0042}
    assert (run_dir / "control").read_text().strip() in ("resume", "stop")  # not left saying "lr"


def test_a_resumed_run_does_not_warn_again(mnist_subsets, tmp_path):
    from mlp_tui.engine.trainer import Trainer
    from mlp_tui.runs.store import load_run_checkpoint

    data = mnist_subsets(3000)
    config = build_config({"hidden": [256, 256], "lr": 0.05, "epochs": 2, "device": "cpu"}, base=RunConfig())
    first: list = []
    store = RunStore(tmp_path / "run")
    Trainer(config, data, CPU, emit=first.append, store=store).run()
    store.close()
    assert "dead-units" in codes(e for e in first if isinstance(e, HealthWarning))
    more = dataclasses.replace(config, epochs=3)
    second: list = []
    trainer = Trainer(more, data, CPU, emit=second.append, store=RunStore(tmp_path / "run"))
    trainer.restore(load_run_checkpoint(tmp_path / "run" / "last.pt"))
    trainer.run()
    told = {(w.code, w.layer) for w in first if isinstance(w, HealthWarning)}
    again = [w for w in second if isinstance(w, HealthWarning) and (w.code, w.layer) in told]
    assert not again, again


def test_only_relu_units_are_called_dead(run_trainer, synthetic, make_config):
    _, events, _ = run_trainer(make_config(activation="leaky_relu"), synthetic)
    health = [e for e in events if isinstance(e, LayerHealth)][-1]
    assert health.layers[0].dead is None  # a leaky unit still passes gradient: never "dead"


def test_underfitting_near_guessing_does_not_ask_for_more_units():
    """At 10 % on ten classes the net is stuck (dead units, vanishing gradients, equal units), not
    too small: more units or a higher rate would be the wrong advice."""
    from mlp_tui.engine.insight import _underfitting

    stuck = _underfitting(3, 0.11, 0.10)
    assert "stuck near guessing" in stuck.message and "more units" not in stuck.advice
    assert "dead units, vanishing gradients" in stuck.advice
    small = _underfitting(3, 0.62, 0.60)
    assert "cannot fit the data" in small.message and "more units" in small.advice
