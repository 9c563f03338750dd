"""A comparison on the local pool survives failures that can pass: a member whose worker is
killed, runs out of memory or hangs is tried once more from its last checkpoint, with a line
saying so; a second failure is reported as the member's own."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from mlp_tui.core.config import build_config
from mlp_tui.runs.compare.backends import pool, worker
from mlp_tui.runs.compare.driver import drive
from mlp_tui.runs.compare.grid import build_grid, parse_axis
from mlp_tui.runs.compare.plan import Plan, new_comparison
from mlp_tui.runs.layout import pid_alive
from mlp_tui.runs.status import write_command
from mlp_tui.runs.store import load_checkpoint, read_events

TIMEOUT_S = 180

# A pool worker whose members run out of memory as their second epoch starts, as many times as
# $OOM_TIMES says for each (counted in $OOM_MARKS, across worker processes).
OOM_WORKER = """
import json, os
from pathlib import Path
import torch
from mlp_tui.engine.trainer import Trainer
from mlp_tui.runs.compare.backends import worker

times = json.loads(os.environ["OOM_TIMES"])
real = Trainer._train_epoch

def out_of_memory_in_epoch_2(self):
    name = self.store.path.name
    marks = Path(os.environ["OOM_MARKS"]) / name
    if self.epoch == 1 and (len(marks.read_text()) if marks.exists() else 0) < times.get(name, 0):
        marks.write_text((marks.read_text() if marks.exists() else "") + "x")
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
    return real(self)

Trainer._train_epoch = out_of_memory_in_epoch_2
worker.exit_now(worker.main())
"""


def tiny_plan(epochs: int, variants: str = "loss=nll,mse", seeds: int = 1) -> Plan:
    base = build_config({"hidden": (16,), "epochs": epochs, "subset": 1500, "batch_size": 64, "device": "cpu"})
    return Plan(build_grid([("tiny", base)], [parse_axis(variants)], {}), seeds, [variants], "test")


def epochs_of(member: Path) -> list[int]:
    return [r["epoch"] for r in read_events(member / "metrics.jsonl") if r["event"] == "epoch_end"]


def starts_of(member: Path) -> int:
    return sum(r["event"] == "run_started" for r in read_events(member / "metrics.jsonl"))


def wait_for(condition, what: str, timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def training_member(folder: Path) -> tuple[Path, int]:
    """A member that has finished an epoch and is training on, and its worker's pid."""
    found: list = []

    def look() -> bool:
        for member in sorted(folder.glob("*-seed*")):
            ended = any(r["event"] in ("run_finished", "run_failed") for r in read_events(member / "metrics.jsonl"))
            if epochs_of(member) and not ended and (member / "process.json").is_file():
                found[:] = [member, json.loads((member / "process.json").read_text())["pid"]]
                return True
        return False

    wait_for(look, "a member past its first epoch")
    return found[0], found[1]


def freeze_between_epochs(pid: int, member: Path) -> None:
    """SIGSTOP the worker at a moment when its last epoch line and its last.pt agree: a kill
    between writing the checkpoint and the epoch's line would lose that line, a window of its
    own that this test is not about."""
    while True:
        os.kill(pid, signal.SIGSTOP)
        done = epochs_of(member)
        if (member / "last.pt").is_file() and load_checkpoint(member / "last.pt")["epoch"] == max(done, default=0):
            return
        os.kill(pid, signal.SIGCONT)
        wait_for(lambda done=done: len(epochs_of(member)) > len(done), "another epoch")


def drive_in_background(folder: Path, plan: Plan, mnist_root: Path, notes: list[str], results: list, jobs: int = 1):
    def run() -> None:
        drive(folder, plan, jobs=jobs, data_dir=mnist_root, on_note=notes.append,
              on_done=lambda result, board: results.append(result))  # fmt: skip

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_killed_worker_s_member_goes_on_from_its_checkpoint(mnist_root, tmp_path, cli_env, mlp_tui_cmd):
    runs_root = tmp_path / "runs"
    args = ["compare", "--preset", "tiny", "--seeds", "2", "--epochs", "30", "--subset", "2000", "--jobs", "1",
            "--headless", "--data-dir", str(mnist_root), "--runs", str(runs_root)]  # fmt: skip
    driver = subprocess.Popen(mlp_tui_cmd + args, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)  # fmt: skip
    try:
        wait_for(lambda: any(runs_root.glob("*-compare")), "the comparison directory")
        [folder] = runs_root.glob("*-compare")
        member, pid = training_member(folder)
        freeze_between_epochs(pid, member)
        os.kill(pid, signal.SIGKILL)
        out, err = driver.communicate(timeout=TIMEOUT_S)
    finally:
        driver.kill()
    assert driver.returncode == 0, out + err
    line = (f"{member.name}: worker lost (pid {pid} killed by SIGKILL); "
            "trying again from its last checkpoint (try 2 of 2)")  # fmt: skip
    assert line in out and line in (folder / "workers.log").read_text()
    assert out.count(" completed  test ") == 2 and "not finished" not in out
    assert starts_of(member) == 2, "the member went on in a second session"
    assert epochs_of(member) == list(range(1, 31)), "every epoch once, none lost, none twice"


def test_out_of_memory_is_tried_once_more_and_a_second_time_is_a_failure(mnist_root, tmp_path, monkeypatch):
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("OOM_TIMES", json.dumps({"01-nll-seed0": 1, "02-mse-seed0": 2}))
    monkeypatch.setenv("OOM_MARKS", str(marks))
    monkeypatch.setattr(worker, "COMMAND", [sys.executable, "-c", OOM_WORKER])
    plan = tiny_plan(epochs=3)
    folder = new_comparison(plan, tmp_path)
    notes: list[str] = []
    board = drive(folder, plan, jobs=1, data_dir=mnist_root, on_note=notes.append)

    nll, mse = folder / "01-nll-seed0", folder / "02-mse-seed0"
    again = r": ran out of memory \(worker pid \d+\); trying again from its last checkpoint \(try 2 of 2\)"
    assert len(notes) == 2, notes  # each tried once more, the one that fails again no third time
    assert re.fullmatch(nll.name + again, notes[0]) and re.fullmatch(mse.name + again, notes[1]), notes
    assert all(note in (folder / "workers.log").read_text() for note in notes)
    states = {s.member.path.name: s for s in board.states}
    nll_accuracy = states[nll.name].test_accuracy
    assert states[nll.name].finished and nll_accuracy is not None and nll_accuracy > 0.5
    assert epochs_of(nll) == [1, 2, 3] and starts_of(nll) == 2
    assert states[mse.name].status == "failed" and "ran out of memory" in states[mse.name].message
    assert epochs_of(mse) == [1] and starts_of(mse) == 2, "tried twice, no third time"


def test_a_hung_worker_is_killed_and_its_member_tried_again_but_a_paused_one_is_not(mnist_root, tmp_path, monkeypatch):
    plan = tiny_plan(epochs=40, variants="loss=nll", seeds=2)
    folder = new_comparison(plan, tmp_path)
    notes: list[str] = []
    results: list = []
    thread = drive_in_background(folder, plan, mnist_root, notes, results)
    member, pid = training_member(folder)

    # Paused by the user: silent on purpose, for longer than a worker may be.
    write_command(member, "pause")
    monkeypatch.setattr(pool, "SILENT_S", 1.0)
    time.sleep(3.0)  # not for luck: the time a paused member stays quiet, three allowances long
    assert not notes and pid_alive(pid)
    monkeypatch.setattr(pool, "SILENT_S", 120.0)
    done = len(epochs_of(member))
    write_command(member, "resume")
    wait_for(lambda: len(epochs_of(member)) > done, "the member to go on")

    freeze_between_epochs(pid, member)  # hung
    monkeypatch.setattr(pool, "SILENT_S", 1.0)
    wait_for(lambda: notes, "the hung worker to be noticed", timeout=60)
    monkeypatch.setattr(pool, "SILENT_S", 120.0)  # the worker started next imports torch first
    thread.join(TIMEOUT_S)
    assert not thread.is_alive()

    [note] = notes
    assert note.startswith(f"{member.name}: worker lost (pid {pid} silent for ") and note.endswith(
        "s, killed); trying again from its last checkpoint (try 2 of 2)")  # fmt: skip
    assert not pid_alive(pid), "the hung worker was killed"
    assert sorted(r.status for r in results) == ["completed", "completed"]
    assert epochs_of(member) == list(range(1, 41)) and starts_of(member) == 2
