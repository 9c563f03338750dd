"""Runs started in another process: status, watching, control file, signals, kill -9 and resume."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlp_tui.cli.main import app
from mlp_tui.core.events import EpochEnd, RunFinished
from mlp_tui.runs.follow import MetricsTail, RunStatus, RunWatch
from mlp_tui.runs.status import STALE_S, run_status, write_command
from mlp_tui.runs.store import load_checkpoint, read_events


def start_run(tmp_path: Path, run_dir: Path, mnist_root: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, MLP_TUI_DATA=str(mnist_root), PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "mlp_tui", "run", "--headless", "--run-dir", str(run_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )


def wait_for_line(process: subprocess.Popen[str], prefix: str, timeout: float = 120) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if line.startswith(prefix):
            return lines
        assert time.monotonic() < deadline, "".join(lines)
    raise AssertionError(f"process ended before {prefix!r}:\n" + "".join(lines))


def epoch_records(run_dir: Path) -> list[dict]:
    return [r for r in read_events(run_dir / "metrics.jsonl") if r["event"] == "epoch_end"]


# -- status ------------------------------------------------------------------------------------


def write_metrics(run_dir: Path, *records: dict) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "metrics.jsonl", "w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")


def test_status_of_finished_failed_running_stale_and_died_runs(tmp_path):
    now = time.time()
    finished = tmp_path / "finished"
    write_metrics(
        finished, {"event": "run_started", "t": now}, {"event": "run_finished", "status": "completed", "t": now}
    )
    assert run_status(finished) == "completed"

    failed = tmp_path / "failed"
    write_metrics(failed, {"event": "run_started", "t": now}, {"event": "run_failed", "t": now})
    assert run_status(failed) == "failed"

    fresh = tmp_path / "fresh"
    write_metrics(fresh, {"event": "run_started", "t": now})
    assert run_status(fresh, now=now + 5) == "running"
    assert run_status(fresh, now=now + STALE_S + 1) == "stale"  # nothing written for too long

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    died = tmp_path / "died"
    write_metrics(died, {"event": "run_started", "t": now})
    (died / "process.json").write_text(json.dumps({"pid": int(dead.stdout), "host": os.uname().nodename}))
    assert run_status(died, now=now + 1) == "died"

    paused = tmp_path / "paused"
    write_metrics(paused, {"event": "run_started", "t": now})
    (paused / "process.json").write_text(json.dumps({"pid": os.getpid(), "host": os.uname().nodename}))
    write_command(paused, "pause")
    assert run_status(paused, now=now + STALE_S + 1) == "paused"


def test_a_half_written_line_waits_for_the_rest(tmp_path):
    path = tmp_path / "metrics.jsonl"
    tail = MetricsTail(path)
    assert tail.read() == []  # not created yet: no error
    path.write_text('{"event": "run_started"}\n{"event": "epo')
    assert tail.read() == [{"event": "run_started"}]
    with open(path, "a") as f:
        f.write('ch_end", "epoch": 1}\n')
    assert tail.read() == [{"event": "epoch_end", "epoch": 1}]


# -- watching a run in another process --------------------------------------------------------------


def test_watch_sees_epochs_of_a_run_in_another_process_arrive(mnist_root, tmp_path):
    run_dir = tmp_path / "run"
    process = start_run(tmp_path, run_dir, mnist_root, "--preset", "tiny", "--epochs", "3", "--subset", "10000")
    watch = RunWatch(run_dir)
    epochs, statuses, finished = [], [], None
    deadline = time.monotonic() + 120
    for event in watch.events():
        assert time.monotonic() < deadline, "the watcher saw no end"
        if isinstance(event, RunStatus):
            statuses.append(event.status)
        elif isinstance(event, EpochEnd):
            epochs.append(event.epoch)
        elif isinstance(event, RunFinished):
            finished = event
            watch.close()
    assert process.wait(60) == 0
    assert epochs == [1, 2, 3]
    assert finished is not None and finished.status == "completed"
    assert finished.test_accuracy is not None and finished.test_accuracy > 0.8
    assert "running" in statuses


def test_watch_app_replays_a_finished_run_and_quits_without_asking(mnist_root, tmp_path):
    from mlp_tui.views.tui.screens.training import TrainingScreen
    from mlp_tui.views.tui.widgets.chart import MetricChart

    run_dir = tmp_path / "run"
    process = start_run(tmp_path, run_dir, mnist_root, "--preset", "tiny", "--epochs", "2", "--subset", "5000")
    assert process.wait(120) == 0

    async def scenario() -> None:
        from mlp_tui.core.presets import load_preset_file
        from mlp_tui.views.tui.app import create_app

        config = load_preset_file(run_dir / "config.toml").config
        app_ = create_app("tiny", config, watch=run_dir, runs_root=tmp_path)
        async with app_.run_test(size=(80, 24)) as pilot:
            screen = app_.screen
            assert isinstance(screen, TrainingScreen) and screen.watching
            deadline = time.monotonic() + 30
            while screen.result is None:
                assert time.monotonic() < deadline
                await pilot.pause(0.05)
            assert screen.run.status == "finished"
            assert [e for e, _ in screen.query_one("#loss-chart", MetricChart).points("train")] == [1, 2]
            await pilot.press("q")  # the run is not ours: no question, just leave
            deadline = time.monotonic() + 10
            while app_.is_running:
                assert time.monotonic() < deadline
                await pilot.pause(0.05)

    asyncio.run(scenario())


def test_control_file_pauses_resumes_and_stops_a_headless_run(mnist_root, tmp_path):
    run_dir = tmp_path / "run"
    process = start_run(tmp_path, run_dir, mnist_root, "--preset", "dropout", "--epochs", "50", "--subset", "20000")
    wait_for_line(process, "epoch")
    metrics = run_dir / "metrics.jsonl"

    write_command(run_dir, "pause")  # what `watch` writes
    paused = wait_for_line(process, "paused", timeout=30)[-1]  # said once the loop really waits
    where = r"(in epoch \d+, after batch \d+|at the start of epoch \d+)"
    assert re.fullmatch(rf"paused {where} \(from a watcher\)\n", paused)
    size = metrics.stat().st_size
    time.sleep(2.5)  # longer than metrics.jsonl's 2 s progress interval: a running run writes
    assert metrics.stat().st_size == size, "the run kept writing while paused"
    assert run_status(run_dir) == "paused"

    write_command(run_dir, "resume")
    resumed = wait_for_line(process, "resumed", timeout=30)[-1]
    said_resumed = re.fullmatch(r"resumed after (\d+) s \(from a watcher\)\n", resumed)
    assert said_resumed is not None, resumed
    seconds = int(said_resumed.group(1))
    assert seconds >= 2  # the 2.5 s above at least
    said = [r for r in read_events(metrics) if r["event"] in ("paused", "resumed")]
    assert [r["event"] for r in said] == ["paused", "resumed"] and said[1]["seconds"] >= 2.5

    write_command(run_dir, "stop")
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    last = read_events(metrics)[-1]
    assert last["event"] == "run_finished" and last["status"] == "stopped"
    assert run_status(run_dir) == "stopped"
    assert load_checkpoint(run_dir / "last.pt")["partial_epoch"] is True


# -- signals, kill -9 and resume ------------------------------------------------------------------


@pytest.mark.parametrize("sig, code, status", [(signal.SIGTERM, 143, "terminated"), (signal.SIGHUP, 129, "hung up")])
def test_sigterm_and_sighup_save_and_exit_like_ctrl_c(mnist_root, tmp_path, sig, code, status):
    run_dir = tmp_path / "run"
    process = start_run(tmp_path, run_dir, mnist_root, "--preset", "dropout", "--epochs", "50", "--subset", "20000")
    wait_for_line(process, "epoch")
    process.send_signal(sig)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == code, out
    assert "Test loss" in out and "Traceback" not in out
    assert read_events(run_dir / "metrics.jsonl")[-1]["status"] == status
    checkpoint = load_checkpoint(run_dir / "last.pt")
    assert checkpoint["epoch"] >= 1 and checkpoint["partial_epoch"] is True


def test_kill_9_then_resume_matches_an_uninterrupted_run(mnist_root, tmp_path):
    # The same seed and thread count give the same numbers (float sums depend on the count).
    args = ("--preset", "dropout", "--epochs", "3", "--subset", "12000", "--seed", "7", "--threads", "1")
    whole = start_run(tmp_path, tmp_path / "whole", mnist_root, *args)
    assert whole.wait(180) == 0

    killed_dir = tmp_path / "killed"
    killed = start_run(tmp_path, killed_dir, mnist_root, *args)
    wait_for_line(killed, "epoch")
    killed.kill()  # SIGKILL: no handler runs, nothing is saved on the way out
    killed.wait(30)
    assert run_status(killed_dir) == "died"
    listing = CliRunner().invoke(app, ["runs", "--runs", str(tmp_path)])
    assert "died" in listing.output

    env = dict(os.environ, MLP_TUI_DATA=str(mnist_root))
    done = subprocess.run(
        [sys.executable, "-m", "mlp_tui", "run", "--resume", str(killed_dir), "--headless"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert run_status(killed_dir) == "completed"

    # At most the epoch in progress was lost, and CPU training is deterministic: every epoch
    # after the resume, and the test result, match the uninterrupted run exactly.
    whole_epochs = {r["epoch"]: r for r in epoch_records(tmp_path / "whole")}
    for record in epoch_records(killed_dir):
        expected = whole_epochs[record["epoch"]]
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
            assert record[key] == expected[key], (record["epoch"], key)
    final = [r for r in read_events(killed_dir / "metrics.jsonl") if r["event"] == "run_finished"][-1]
    reference = read_events(tmp_path / "whole" / "metrics.jsonl")[-1]
    assert final["test_loss"] == reference["test_loss"] and final["test_accuracy"] == reference["test_accuracy"]


def test_resume_refuses_a_finished_run_and_changed_settings(mnist_root, tmp_path):
    run_dir = tmp_path / "run"
    assert (
        start_run(tmp_path, run_dir, mnist_root, "--preset", "tiny", "--epochs", "1", "--subset", "3000").wait(120) == 0
    )
    runner = CliRunner()
    result = runner.invoke(app, ["run", "--resume", str(run_dir), "--headless"])
    assert result.exit_code == 2 and "already finished" in result.output
    result = runner.invoke(app, ["run", "--resume", str(run_dir), "--headless", "--lr", "0.1"])
    assert result.exit_code == 2 and "--lr" in result.output
    result = runner.invoke(app, ["run", "--resume", str(tmp_path / "nope"), "--headless"])
    assert result.exit_code == 2 and "no run at" in result.output


def test_a_live_run_cannot_be_resumed_a_second_time(tmp_path):
    """Even a run that looks stale (hung, or paused in an app) is refused while its process lives:
    two writers in one run directory would clobber each other's checkpoints."""
    from mlp_tui.core.config import ConfigError
    from mlp_tui.runs.launch import load_resume

    run_dir = tmp_path / "run"
    write_metrics(run_dir, {"event": "run_started", "t": time.time() - 10 * STALE_S})
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # another live process
    try:
        (run_dir / "process.json").write_text(json.dumps({"pid": owner.pid, "host": os.uname().nodename}))
        assert run_status(run_dir) == "stale"
        with pytest.raises(ConfigError, match="still running"):
            load_resume(run_dir)
    finally:
        owner.kill()
        owner.wait()
