"""Run directories and checkpoints: what a run leaves behind can be read back, trusted, and is
never half-written."""

from __future__ import annotations

import json
import os

import pytest
import torch

from mlp_tui.core.config import build_config
from mlp_tui.core.events import BatchProgress, Evaluation, from_dict
from mlp_tui.core.presets import load_preset_file
from mlp_tui.engine.model import build_model, build_optimizer
from mlp_tui.runs.store import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    RunStore,
    atomic_save,
    load_checkpoint,
    new_run_dir,
    read_events,
)


@pytest.fixture
def finished_run(synthetic, make_config, run_trainer, tmp_path):
    """A short run with dropout and batch norm (so buffers are saved too), written to a RunStore."""
    config = make_config(hidden=(32, 16), dropout=0.1, batch_norm=True, epochs=2)
    store = RunStore(tmp_path / "run")
    store.write_config(config, "test")
    result, events, trainer = run_trainer(config, synthetic, store=store)
    return config, store.path, result, events, trainer


def test_checkpoint_round_trip_gives_the_same_predictions(finished_run, synthetic):
    _config, run_dir, result, _, trainer = finished_run
    checkpoint = load_checkpoint(run_dir / "best.pt")
    assert checkpoint["format"] == CHECKPOINT_FORMAT
    assert checkpoint["epoch"] == result.best_epoch
    restored = build_model(build_config(checkpoint["config"]))  # MNIST's pixel statistics, until loaded
    restored.load_state_dict(checkpoint["model"])
    assert any("running_mean" in k for k in checkpoint["model"]), "batch-norm statistics were not saved"
    x = synthetic.test_x
    trainer.model.eval()
    restored.eval()
    with torch.no_grad():
        torch.testing.assert_close(restored(x), trainer.model(x), rtol=0, atol=0)


def test_last_checkpoint_holds_everything_needed_to_continue(finished_run):
    config, run_dir, _, _, _ = finished_run
    last = load_checkpoint(run_dir / "last.pt")
    assert last["epoch"] == 2 and last["partial_epoch"] is False
    assert build_config(last["config"]) == config
    model = build_model(config)
    model.load_state_dict(last["model"])
    optimizer = build_optimizer(model, config, torch.device("cpu"))
    optimizer.load_state_dict(last["optimizer"])
    assert optimizer.state, "the optimizer state (Adam moments) was not saved"
    assert isinstance(last["rng_cpu"], torch.Tensor) and isinstance(last["rng_generator"], torch.Tensor)


class RunsCode:
    """Unpickling this runs a shell command: exactly what a checkpoint must never be able to do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class Custom:
    pass


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(lambda tmp: RunsCode(tmp / "pwned"), id="reduce-to-os.system"),
        pytest.param(lambda tmp: os.system, id="callable"),
        pytest.param(lambda tmp: Custom(), id="custom-class"),
    ],
)
def test_checkpoint_with_pickled_objects_is_refused(tmp_path, payload):
    path = tmp_path / "evil.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "model": {}, "extra": payload(tmp_path)}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert message.startswith(f"{path}: refused:")
    assert "could run code" in message
    assert "\x1b" not in message, "the message must be plain text (it goes to logs too)"
    assert "weights_only" not in message, "do not advise turning the safety check off"
    assert not (tmp_path / "pwned").exists(), "loading the checkpoint ran code"


def test_refusal_names_the_offending_object(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "extra": os.system}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert "system" in str(info.value)


def test_other_files_are_not_checkpoints(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"definitely not a zip file")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.ones(2)}}, foreign)
    with pytest.raises(CheckpointError, match="not an mlp-tui checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


class FailsToPickle:
    def __init__(self, exc: BaseException):
        self.exc = exc

    def __reduce__(self):
        raise self.exc


@pytest.mark.parametrize(
    "exc", [OSError(28, "No space left on device"), KeyboardInterrupt()], ids=["disk-full", "ctrl-c"]
)
def test_interrupted_save_leaves_the_previous_checkpoint_and_no_temp_file(tmp_path, exc):
    path = tmp_path / "last.pt"
    atomic_save({"format": CHECKPOINT_FORMAT, "epoch": 1, "w": torch.ones(1000)}, path)
    before = path.read_bytes()
    # The new state is large, so the failure comes after bytes have reached the temp file.
    new_state = {"format": CHECKPOINT_FORMAT, "epoch": 2, "w": torch.zeros(1_000_000), "z": FailsToPickle(exc)}
    with pytest.raises(type(exc)):
        atomic_save(new_state, path)
    assert path.read_bytes() == before
    assert load_checkpoint(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"], "a temp file was left behind"


def test_interrupted_first_save_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        atomic_save({"z": FailsToPickle(RuntimeError("boom"))}, tmp_path / "best.pt")
    assert list(tmp_path.iterdir()) == []


# -- the run directory -----------------------------------------------------------------------


def test_run_dir_config_loads_back_as_a_preset(finished_run):
    config, run_dir, _, _, _ = finished_run
    preset = load_preset_file(run_dir / "config.toml")
    assert preset.config == config
    assert preset.name == "config"
    assert run_dir.name in preset.description


def test_every_metrics_line_is_json_and_round_trips_to_the_events(finished_run):
    _, run_dir, result, events, _ = finished_run
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert lines
    stored = []
    for line in lines:
        record = json.loads(line)
        assert isinstance(record["t"], float)
        event = from_dict(record)
        assert from_dict(json.loads(json.dumps(event.to_dict()))) == event
        stored.append(event)
    # Everything but batch progress is kept, in order; progress is thinned, never invented.
    assert [e for e in stored if not isinstance(e, BatchProgress)] == [
        e for e in events if not isinstance(e, BatchProgress)
    ]
    assert all(e in events for e in stored if isinstance(e, BatchProgress))
    assert stored[-1] == result
    assert read_events(run_dir / "metrics.jsonl") == [json.loads(line) for line in lines]


def test_misclassified_digits_survive_the_round_trip(finished_run):
    _, run_dir, _, events, _ = finished_run
    test_eval = events[-2]
    records = [r for r in read_events(run_dir / "metrics.jsonl") if r["event"] == "evaluation" and r["split"] == "test"]
    assert len(records) == 1
    restored = from_dict(records[0])
    assert restored == test_eval
    assert isinstance(restored, Evaluation)
    for mistake in restored.misclassified:
        assert len(mistake.pixels) == 784
        assert mistake.predicted != mistake.true


def test_read_events_skips_a_half_written_last_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"event": "run_started"}\n{"event": "epoch_e')
    assert read_events(path) == [{"event": "run_started"}]


def test_checkpoints_in_the_run_dir_are_loadable(finished_run):
    _, run_dir, _, _, _ = finished_run
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == ["best.pt", "config.toml", "last.pt", "metrics.jsonl", "report.txt"]
    for name in ("best.pt", "last.pt"):
        assert load_checkpoint(run_dir / name)["model"]


def test_new_run_dirs_never_collide(tmp_path):
    first = new_run_dir("tiny", tmp_path)
    second = new_run_dir("tiny", tmp_path)
    odd = new_run_dir("../my preset", tmp_path)
    assert first != second and first.is_dir() and second.is_dir()
    assert odd.parent == tmp_path and "/" not in odd.name and " " not in odd.name


def test_report_is_written_with_the_test_results_and_how_to_rerun(finished_run):
    _, run_dir, result, _, _ = finished_run
    report = (run_dir / "report.txt").read_text()
    assert f"test accuracy {result.test_accuracy * 100:.2f} %" in report
    assert "Per-class test accuracy" in report and report.count("/") >= 10
    assert f"--preset {run_dir / 'config.toml'} --headless" in report


def test_a_learning_rate_from_the_app_never_overwrites_a_stop_from_a_watcher(tmp_path):
    from mlp_tui.engine.control import Control
    from mlp_tui.runs.status import read_command, write_command

    control = Control(lambda: read_command(tmp_path))
    control.on_command = lambda command: write_command(tmp_path, command)
    write_command(tmp_path, "stop")  # a watcher's stop, not polled yet
    control.set_lr(0.1)  # the app's key, over the child's stdin
    assert read_command(tmp_path) == "stop" and control.take_lr() == 0.1
    write_command(tmp_path, "lr 0.2")  # a watcher's rate, read from the file
    control._last_poll = 0.0
    control.poll()
    assert control.take_lr() == 0.2 and read_command(tmp_path) == "resume"  # the state is back


def test_a_metrics_file_replaced_by_a_new_run_is_read_from_its_start(tmp_path):
    from mlp_tui.runs.store import MetricsTail

    path = tmp_path / "metrics.jsonl"
    path.write_text('{"event": "run_started", "n": 1}\n{"event": "epoch_end", "epoch": 1}\n')
    tail = MetricsTail(path)
    assert len(tail.read()) == 2
    path.write_text('{"event": "run_started", "n": 2}\n')  # the member started afresh
    assert tail.read() == [{"event": "run_started", "n": 2}]
