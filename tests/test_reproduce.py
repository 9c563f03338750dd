"""Runs reproduce exactly, including what was done by hand: a learning rate changed mid-run is
recorded in the run's config (`lr_changes`), so its config.toml and its `Reproduce with` line
give the same numbers; a run that ended early says which epochs its line covers.

Exact float equality is fair here: every run is on one CPU thread (`threads = "1"`)."""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import CPU
from mlp_tui.cli.main import app
from mlp_tui.core.config import RunConfig, build_config
from mlp_tui.core.events import BatchProgress, EpochEnd, LrChanged, RunFinished, RunStarted
from mlp_tui.core.presets import load_preset_file
from mlp_tui.engine import trainer as engine
from mlp_tui.engine.trainer import Control, Trainer
from mlp_tui.runs.status import find_runs, read_command, write_command
from mlp_tui.runs.store import RunStore, load_run_checkpoint, read_events
from mlp_tui.text.reproduce import ReproduceLine

NUMBERS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")  # an epoch's, not its timings


def numbers(events) -> list[tuple]:
    return [tuple(getattr(e, k) for k in NUMBERS) for e in events if isinstance(e, EpochEnd)]


def change_by_hand(control: Control, epoch: int, batch: int, lr: float):
    """An emit that asks for `lr` as the app's key does, once batch `batch` of `epoch` is done."""

    def on_event(event):
        if isinstance(event, BatchProgress) and (event.epoch, event.batch) == (epoch, batch):
            control.set_lr(lr)

    return on_event


@pytest.mark.parametrize("schedule", ["none", "onecycle"])
def test_a_rate_changed_by_hand_is_recorded_and_the_config_reruns_to_the_same_numbers(
    run_trainer, synthetic, make_config, tmp_path, monkeypatch, schedule
):
    monkeypatch.setattr(engine, "TICK_S", 0.0)  # a progress event after every batch
    config = make_config(epochs=3, schedule=schedule, lr=0.001)
    store = RunStore(tmp_path / "run")
    store.write_config(config, "test")  # as a launched run's starts
    control = Control()
    first, events, _ = run_trainer(config, synthetic, store=store, control=control,
                                   on_event=change_by_hand(control, 2, 3, 0.004))  # fmt: skip
    [by_hand] = [e for e in events if isinstance(e, LrChanged)]
    assert (by_hand.epoch, by_hand.batch, by_hand.lr, by_hand.planned) == (2, 3, 0.004, False)

    recorded = load_preset_file(tmp_path / "run" / "config.toml").config
    assert recorded.lr_changes == ((2, 3, 0.004),)
    assert load_run_checkpoint(tmp_path / "run" / "last.pt")["config"]["lr_changes"] == [[2, 3, 0.004]]
    again, rerun, _ = run_trainer(recorded, synthetic)
    assert [(e.epoch, e.batch, e.lr, e.planned) for e in rerun if isinstance(e, LrChanged)] == [(2, 3, 0.004, True)]
    assert numbers(rerun) == numbers(events)
    assert (again.test_loss, again.test_accuracy) == (first.test_loss, first.test_accuracy)
    # ... and it is the recorded change that makes them: without it, epoch 2 on differs.
    _, plain, _ = run_trainer(config, synthetic)
    assert numbers(plain)[0] == numbers(events)[0] and numbers(plain)[1:] != numbers(events)[1:]


def test_a_resumed_run_keeps_a_change_made_before_it_stopped_and_makes_it_once(
    run_trainer, synthetic, make_config, tmp_path, monkeypatch
):
    monkeypatch.setattr(engine, "TICK_S", 0.0)
    config = make_config(epochs=3, lr=0.001)
    store = RunStore(tmp_path / "run")
    store.write_config(config, "test")
    control = Control()
    change = change_by_hand(control, 1, 4, 0.004)

    def on_event(event):
        change(event)
        if isinstance(event, BatchProgress) and (event.epoch, event.batch) == (2, 5):
            control.stop()  # mid-epoch: last.pt is saved with the epoch half done

    stopped, _, _ = run_trainer(config, synthetic, store=store, control=control, on_event=on_event)
    assert stopped.status == "stopped" and stopped.epochs_done == 1
    last = load_run_checkpoint(tmp_path / "run" / "last.pt")
    resumed_events: list = []
    # As `--resume` does: the config from the checkpoint, then its state.
    resumed_store = RunStore(tmp_path / "run")
    resumed = Trainer(build_config(last["config"]), synthetic, CPU, emit=resumed_events.append,
                      store=resumed_store, preset="test")  # fmt: skip
    resumed.restore(last, load_run_checkpoint(tmp_path / "run" / "best.pt"))
    finished = resumed.run()
    resumed_store.close()
    assert not [e for e in resumed_events if isinstance(e, LrChanged)]  # made once, before the stop
    straight, rerun, _ = run_trainer(load_preset_file(tmp_path / "run" / "config.toml").config, synthetic)
    whole = [r for r in read_events(tmp_path / "run" / "metrics.jsonl") if r["event"] == "epoch_end"]
    assert [tuple(r[k] for k in NUMBERS) for r in whole] == numbers(rerun)
    assert isinstance(finished, RunFinished), finished
    assert (finished.test_loss, finished.test_accuracy) == (straight.test_loss, straight.test_accuracy)


def test_rewriting_config_toml_keeps_latest_the_run_started_last(tmp_path, make_config):
    older, newer = RunStore(tmp_path / "older"), RunStore(tmp_path / "newer")
    older.write_config(make_config(), "test")
    newer.write_config(make_config(), "test")
    os.utime(tmp_path / "older" / "config.toml", (1_000_000, 1_000_000))  # started first
    older.write_config(make_config(lr_changes=((1, 2, 0.01),)), "test")  # a change by hand, later
    older.close()
    newer.close()
    assert find_runs(tmp_path)[0].name == "newer"
    assert "lr_changes = [[1, 2, 0.01]]" in (tmp_path / "older" / "config.toml").read_text()


# -- the reproduce line ----------------------------------------------------------------------

CLI_LINE = "mlp-tui run --preset tiny --headless --seed 0"


def ended(line: ReproduceLine, status: str, epochs_done: int, changes=((6, 0, 0.03),), **config) -> str:
    """The line after a run of 10 epochs with `changes` made by hand, ended with `status`."""
    start = dataclasses.replace(RunConfig(), epochs=10, **config)
    line.note(RunStarted(config=start.to_dict(), preset="tiny", device="CPU", summary="", parameters=1,
                         train_size=1, val_size=1, test_size=1, run_dir="/runs/r1"))  # fmt: skip
    for epoch, batch, lr in changes:
        line.note(LrChanged(epoch=epoch, batch=batch, lr=lr, previous=0.1))
    return line.text(RunFinished(status=status, epochs_done=epochs_done, best_epoch=1, best_val_accuracy=0.9,
                                 test_loss=0.1, test_accuracy=0.9, seconds=1.0))  # fmt: skip


@pytest.mark.parametrize(
    "status, done, config, expected",
    [
        ("completed", 10, {}, f"Reproduce with: {CLI_LINE} --lr-changes 6:0:0.03"),
        # Stopped by hand: the command stops where it did (the change in epoch 6 never came).
        ("stopped", 4, {}, f"Reproduce with (epochs 1–4 of 10; it was stopped): {CLI_LINE} --epochs 4"),
        (
            "interrupted",
            7,
            {},
            f"Reproduce with (epochs 1–7 of 10; it was interrupted): {CLI_LINE} --epochs 7 --lr-changes 6:0:0.03",
        ),
        # A schedule's rates depend on the epoch count: the command trains them all.
        (
            "stopped",
            7,
            {"schedule": "cosine"},
            "Reproduce with (epochs 1–7 of 10; it was stopped; this trains "
            f"all 10, the first 7 alike): {CLI_LINE} --lr-changes 6:0:0.03",
        ),
        (
            "early-stopped",
            8,
            {},
            f"Reproduce with (epochs 1–8 of 10; it stopped early, and so will this): {CLI_LINE} --lr-changes 6:0:0.03",
        ),
    ],
)
def test_the_reproduce_line_carries_changes_made_by_hand_and_says_which_epochs(status, done, config, expected):
    assert ended(ReproduceLine(CLI_LINE), status, done, **config) == expected


def test_a_line_that_reruns_the_runs_own_config_toml_needs_no_flag_for_them():
    own = "mlp-tui run --preset /runs/r1/config.toml --headless"  # report.txt's line: config.toml records them
    assert ended(ReproduceLine(own), "completed", 10) == f"Reproduce with: {own}"
    # Stopped before epoch 6: the change config.toml records there is left out with the epochs.
    assert ended(ReproduceLine(own), "stopped", 4) == f"Reproduce with (epochs 1–4 of 10; it was stopped): {own} " \
                                                     "--epochs 4 --lr-changes none"  # fmt: skip


# -- the command line ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, says",
    [
        ("6:x:0.1", "'6:x:0.1' is not EPOCH:BATCH:RATE"),
        ("6:0:0", "the rate 0 is not > 0"),
        ("0:0:0.1", "epochs count from 1"),
        ("12:0:0.1", "a change in epoch 12 comes after the last epoch (10)"),
    ],
)
def test_a_bad_lr_changes_value_exits_2_naming_the_option_and_its_form(tmp_path, value, says):
    result = CliRunner().invoke(app, ["run", "--preset", "tiny", "--headless", "--runs", str(tmp_path / "runs"),
                                      "--epochs", "10", "--lr-changes", value])  # fmt: skip
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "option --lr-changes:" in result.output and says in result.output
    if "epoch 12" not in says:  # the allowed form, with an example
        assert "expected EPOCH:BATCH:RATE items separated by commas, e.g. 6:0:0.03" in result.output
    assert not (tmp_path / "runs").exists()


def wait_for(condition, proc: subprocess.Popen[str], what: str, timeout: float = 120) -> None:
    """A bounded wait for something the run does, failing early if it exits."""
    assert proc.stdout is not None, "the run's output is piped, to be shown if it ends early"
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the run ended before {what}: {proc.stdout.read()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def events_of(run_dir: Path, kind: str) -> list[dict]:
    return [r for r in read_events(run_dir / "metrics.jsonl") if r["event"] == kind]


def test_a_rate_changed_by_a_watcher_is_in_the_printed_line_which_gives_the_same_numbers(
    idx_dataset, tmp_path, cli_env, mlp_tui_cmd
):
    data = tmp_path / "data"
    idx_dataset(data, noise=120.0)
    where = ["--data-dir", str(data), "--runs", str(tmp_path / "runs")]
    first = tmp_path / "first"
    command = [*mlp_tui_cmd, "run", "--preset", "tiny", "--headless", "--dataset", "fashion-mnist", "--epochs", "100",
               "--threads", "1", "--run-dir", str(first), *where]  # fmt: skip
    proc = subprocess.Popen(command, env=cli_env, cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        # Paused, so the change lands at a batch we can name, as `watch` sends it (the control file).
        wait_for(lambda: events_of(first, "epoch_end"), proc, "the first epoch")
        write_command(first, "pause")
        wait_for(lambda: events_of(first, "paused"), proc, "the pause")
        write_command(first, "lr 0.003")
        wait_for(lambda: read_command(first) == "pause", proc, "the new rate to be taken")  # the run puts it back
        write_command(first, "resume")
        wait_for(lambda: events_of(first, "lr_changed"), proc, "the change")
        changed_in = events_of(first, "lr_changed")[0]["epoch"]
        wait_for(lambda: events_of(first, "epoch_end")[-1]["epoch"] >= changed_in, proc, "the epoch of the change")
        write_command(first, "pause")  # then stop it, paused, wherever it has got to
        wait_for(lambda: len(events_of(first, "paused")) == 2, proc, "the second pause")
        write_command(first, "stop")
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    [change] = events_of(first, "lr_changed")
    done = events_of(first, "run_finished")[-1]["epochs_done"]
    assert "learning rate 0.001 -> 0.003 (by hand" in out
    assert f"lr_changes = [[{change['epoch']}, {change['batch']}, 0.003]]" in (first / "config.toml").read_text()
    line = out.rstrip().splitlines()[-1]
    said = re.fullmatch(rf"Reproduce with \(epochs 1[–-]{done} of 100; it was stopped\): (.*)", line)
    assert said, line
    words = shlex.split(said.group(1))
    assert words[:2] == ["mlp-tui", "run"] and words[words.index("--epochs") + 1] == str(done)
    assert words[words.index("--lr-changes") + 1] == f"{change['epoch']}:{change['batch']}:0.003"

    again = tmp_path / "again"
    rerun = subprocess.run([*mlp_tui_cmd, *words[1:], "--run-dir", str(again), *where], env=cli_env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=180)  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert rerun.stdout.rstrip().splitlines()[-1].startswith("Reproduce with: mlp-tui run")  # it completed
    epochs = [[r[k] for k in NUMBERS] for r in events_of(first, "epoch_end")]
    assert [[r[k] for k in NUMBERS] for r in events_of(again, "epoch_end")] == epochs and len(epochs) == done
    before, after = (events_of(run, "run_finished")[-1] for run in (first, again))
    assert (after["test_loss"], after["test_accuracy"]) == (before["test_loss"], before["test_accuracy"])
