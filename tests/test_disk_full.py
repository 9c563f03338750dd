"""A full disk says so, and loses nothing: when a checkpoint, metrics.jsonl or the report cannot be
written (no space left, or the folder became read-only), the run stops with one sentence that names
the file, the checkpoint still kept and the command that goes on (exit 1, no traceback), headless,
in the app and in a comparison alike; with room again, that command finishes the run.

For real on a small tmpfs where the test may mount one (root on Linux; skipped elsewhere), and by
an OSError injected at the write call everywhere."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from conftest import wait_until
from mlp_tui.cli.main import app
from mlp_tui.core.events import EpochEnd, Event, RunFailed, RunFinished
from mlp_tui.core.presets import resolve_preset
from mlp_tui.engine.trainer import Trainer
from mlp_tui.runs import store as store_module
from mlp_tui.runs.compare.backends import worker
from mlp_tui.runs.compare.driver import drive
from mlp_tui.runs.compare.plan import PLAN_FILE, read_plan
from mlp_tui.runs.full_disk import disk_error
from mlp_tui.runs.store import RunStore, atomic_save, load_checkpoint, read_events

CPU = torch.device("cpu")
TIMEOUT_S = 120


def said(run: Path, name: str, kept: str) -> str:
    """The sentence a run stopped by a full disk ends with (the views put "mlp-tui: " before it)."""
    return (f"no space left on device while writing {run}/{name}; the last good checkpoint ({kept}) is kept — "
            f"free some space and continue with: mlp-tui run --resume {run}")  # fmt: skip


def whole_lines(path: Path) -> list[dict]:
    """Every line of a metrics.jsonl, each of which must be whole JSON (no torn line kept)."""
    text = path.read_text()
    assert text.endswith("\n"), "the file ends in a torn line"
    return [json.loads(line) for line in text.splitlines()]


def epochs_of(run: Path) -> list[int]:
    return [r["epoch"] for r in read_events(run / "metrics.jsonl") if r["event"] == "epoch_end"]


class SmallDisk:
    """A tmpfs of its own for one test; unmounted at the end."""

    def __init__(self, where: Path) -> None:
        self.where, self.mounted = where, False

    def mount(self, size: str) -> Path:
        if not sys.platform.startswith("linux") or shutil.which("mount") is None:
            pytest.skip("needs Linux with mount(8) for a small tmpfs")
        self.where.mkdir(exist_ok=True)
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(self.where)],
                              capture_output=True, text=True)  # fmt: skip
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {proc.stderr.strip() or proc.returncode}")
        self.mounted = True
        return self.where

    def grow(self, size: str) -> None:
        """Free some space: the same files, a bigger disk."""
        subprocess.run(["mount", "-o", f"remount,size={size}", str(self.where)], check=True)


@pytest.fixture
def small_disk(tmp_path):
    disk = SmallDisk(tmp_path / "disk")
    yield disk
    if disk.mounted:
        subprocess.run(["umount", "-l", str(disk.where)], check=False)


@pytest.fixture
def digits(tmp_path, idx_dataset) -> Path:
    """A small learnable MNIST-shaped dataset, off the small disk."""
    idx_dataset(tmp_path / "data", "mnist", n_train=1200, n_test=300)
    return tmp_path / "data"


# 400 KiB hold epoch 1 (config, metrics, best.pt 54 KB, last.pt 170 KB for the tiny preset) but
# not the second epoch's saves, which need a new last.pt beside the old one.
FILLS_IN_EPOCH_2 = "400k"


# == for real: a tmpfs that fills ===================================================================


def test_headless_run_on_a_disk_that_fills_says_so_and_resumes_once_there_is_room(
    small_disk, digits, cli_env, mlp_tui_cmd
):
    run = small_disk.mount(FILLS_IN_EPOCH_2) / "run"
    args = ["run", "--preset", "tiny", "--headless", "--epochs", "3", "--data-dir", str(digits)]
    proc = subprocess.run(mlp_tui_cmd + args + ["--run-dir", str(run)], env=cli_env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr and "enforce fail" not in proc.stdout + proc.stderr
    last_line = proc.stdout.strip().splitlines()[-1]  # nothing after it: it ends with what to do
    assert load_checkpoint(run / "last.pt")["epoch"] == 1, "the last good checkpoint stays loadable"
    assert last_line in (f"mlp-tui: {said(run, name, 'epoch 1')}" for name in ("best.pt", "last.pt")), last_line
    assert not list(run.glob(".*.tmp")), "a temp file was left behind"
    records = whole_lines(run / "metrics.jsonl")
    assert [r["epoch"] for r in records if r["event"] == "epoch_end"] == [1]
    assert not (run / "error.log").exists()

    small_disk.grow("4m")
    again = subprocess.run([*mlp_tui_cmd, "run", "--resume", str(run), "--headless", "--data-dir", str(digits)],
                           env=cli_env, capture_output=True, text=True, timeout=TIMEOUT_S)  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert epochs_of(run) == [1, 2, 3], "every epoch once, none lost"
    assert read_events(run / "metrics.jsonl")[-1]["status"] == "completed"
    assert "test accuracy" in (run / "report.txt").read_text()


def test_the_app_shows_the_full_disk_and_what_to_do(small_disk, digits):
    from textual.widgets import Static

    from mlp_tui.views.tui.app import create_app
    from mlp_tui.views.tui.screens.training import TrainingScreen
    from test_tui import plain

    runs = small_disk.mount(FILLS_IN_EPOCH_2)
    config = dataclasses.replace(resolve_preset("tiny").config, epochs=3)

    async def scenario() -> None:
        app = create_app("tiny", config, autostart=True, data_dir=digits, runs_root=runs)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen))
            screen = app.screen
            assert isinstance(screen, TrainingScreen)
            await wait_until(pilot, lambda: screen.result is not None, timeout=TIMEOUT_S)
            assert screen.run.status == "failed" and isinstance(screen.result, RunFailed), screen.result
            assert screen.result.reason == "disk-full", screen.result
            [run] = [p for p in runs.iterdir() if p.is_dir()]
            assert screen.result.message in (said(run, name, "epoch 1") for name in ("best.pt", "last.pt"))
            # All of it on the status lines (not cut after a line), beyond the toast's 30 seconds.
            status = " ".join(plain(screen.query_one("#status", Static)).split())
            assert " ".join(screen.result.message.split()) in status
            assert load_checkpoint(run / "last.pt")["epoch"] == 1

    asyncio.run(scenario())


# == injected at the write call =====================================================================


class FillsUp:
    """metrics.jsonl's file: once `full`, a write takes the few bytes that fit, then no more."""

    def __init__(self, real) -> None:
        self.real, self.full, self.room = real, False, 10

    def write(self, data) -> int:
        if not self.full:
            return self.real.write(data)
        if self.room:
            written = self.real.write(data[: self.room])
            self.room -= written
            return written
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_metrics_that_cannot_be_appended_stop_the_run_with_no_torn_line(synthetic, make_config, tmp_path, monkeypatch):
    config, run = make_config(epochs=3), tmp_path / "run"
    store = RunStore(run)
    metrics = FillsUp(store._metrics)
    monkeypatch.setattr(store, "_metrics", metrics)
    events: list[Event] = []

    def view(event) -> None:
        events.append(event)
        if isinstance(event, EpochEnd):  # recorded; what follows it finds the disk full
            metrics.full = True

    result = Trainer(config, synthetic, CPU, emit=view, store=store).run()
    store.close()
    assert isinstance(result, RunFailed) and result.reason == "disk-full"
    assert result.message == said(run, "metrics.jsonl", "epoch 1")
    assert events[-1] == result, "the view hears the end that the disk could not take"
    records = whole_lines(run / "metrics.jsonl")  # the bytes that fitted were taken back
    assert records[-1]["event"] == "epoch_end" and records[-1]["epoch"] == 1
    assert not (run / "error.log").exists()

    again_store = RunStore(run)
    again = Trainer(config, synthetic, CPU, store=again_store)  # room again: it goes on
    again.restore(load_checkpoint(run / "last.pt"), load_checkpoint(run / "best.pt"))
    finished = again.run()
    again_store.close()
    assert isinstance(finished, RunFinished) and finished.status == "completed" and finished.epochs_done == 3
    assert epochs_of(run) == [1, 2, 3]


def test_a_line_torn_by_an_earlier_crash_never_swallows_the_next_record(tmp_path):
    from mlp_tui.core.events import LrChanged

    (tmp_path / "metrics.jsonl").write_text(
        '{"event": "lr_changed", "epoch": 1, "batch": 1, "lr": 0.1, "previous": 0.2}\n{"ev'
    )
    store = RunStore(tmp_path)
    store.append(LrChanged(epoch=1, batch=2, lr=0.3, previous=0.1))
    store.close()
    assert [r["batch"] for r in read_events(tmp_path / "metrics.jsonl")] == [1, 2]


def test_a_report_that_cannot_be_written_stops_the_run_and_resume_writes_it(
    synthetic, make_config, tmp_path, monkeypatch, run_trainer
):
    real, full = store_module.atomic_write_bytes, [True]

    def write_bytes(path, data) -> None:
        if Path(path).name != "report.txt" or not full[0]:
            return real(path, data)

        def half_then_no_room(f) -> None:
            f.write(data[: len(data) // 2])
            f.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

        store_module._atomic(Path(path), half_then_no_room)

    monkeypatch.setattr(store_module, "atomic_write_bytes", write_bytes)
    config, run = make_config(epochs=2), tmp_path / "run"
    result, events, _ = run_trainer(config, synthetic, store=RunStore(run))
    assert isinstance(result, RunFailed) and result.reason == "disk-full"
    assert result.message == said(run, "report.txt", "epoch 2")
    assert not any(isinstance(e, RunFinished) for e in events)
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "last.pt", "metrics.jsonl"], "no report, no temp file"
    assert [r["event"] for r in read_events(run / "metrics.jsonl")][-2:] == ["run_finished", "run_failed"]

    full[0] = False
    again_store = RunStore(run)
    again = Trainer(config, synthetic, CPU, store=again_store)
    again.restore(load_checkpoint(run / "last.pt"), load_checkpoint(run / "best.pt"))
    finished = again.run()
    again_store.close()
    assert isinstance(finished, RunFinished) and finished.status == "completed"
    assert "test accuracy" in (run / "report.txt").read_text()


@pytest.mark.parametrize(
    "code, words",
    [
        (errno.EROFS, "the file system became read-only while writing {run}/best.pt; there is no checkpoint to "
                      "continue from yet — make it writable again and start the run again"),
        (errno.EDQUOT, "disk quota exceeded while writing {run}/best.pt; there is no checkpoint to continue from "
                       "yet — free some space and start the run again"),
    ],
    ids=["read-only", "quota"],
)  # fmt: skip
def test_a_first_checkpoint_that_cannot_be_written_says_why_and_that_none_is_kept(
    synthetic, make_config, tmp_path, monkeypatch, run_trainer, code, words
):
    real = store_module.tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        if kwargs.get("prefix", "").startswith(".best.pt."):
            raise OSError(code, "refused", str(kwargs.get("dir")))
        return real(*args, **kwargs)

    monkeypatch.setattr(store_module.tempfile, "mkstemp", mkstemp)
    run = tmp_path / "run"
    result, _, _ = run_trainer(make_config(epochs=2), synthetic, store=RunStore(run))
    assert isinstance(result, RunFailed) and result.reason == "disk-full"
    assert result.message == words.format(run=run)


def test_torch_save_on_a_full_disk_is_told_as_one_not_as_torch_internals(tmp_path, monkeypatch):
    """torch.save reports its writer's OSError as "[enforce fail ...] unexpected pos"."""
    real_fdopen = store_module.os.fdopen

    class NoRoomAfter:
        def __init__(self, f) -> None:
            self.f, self.left = f, 4096

        def write(self, data) -> int:
            if len(data) > self.left:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.left -= len(data)
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    path = tmp_path / "last.pt"
    atomic_save({"epoch": 1}, path)
    monkeypatch.setattr(store_module.os, "fdopen", lambda fd, mode: NoRoomAfter(real_fdopen(fd, mode)))
    with pytest.raises(OSError) as caught:
        atomic_save({"epoch": 2, "w": torch.zeros(100_000)}, path)
    assert disk_error(caught.value) == errno.ENOSPC
    assert str(caught.value) == f"no space left on device while writing {path}"
    monkeypatch.setattr(store_module.os, "fdopen", real_fdopen)
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


# == a comparison ==================================================================================

# A pool worker whose member $FULL_MEMBER finds the disk full when it saves last.pt after epoch 2.
FULL_DISK_WORKER = """
import errno, os
from mlp_tui.runs import store
from mlp_tui.runs.compare.backends import worker

real = store.atomic_save

def save(obj, path):
    if path.parent.name == os.environ.get("FULL_MEMBER") and path.name == "last.pt" and obj["epoch"] == 2:
        def no_room(f):
            f.write(b"x" * 1000)
            raise OSError(errno.ENOSPC, "No space left on device")
        return store._atomic(path, no_room)
    return real(obj, path)

store.atomic_save = save
worker.exit_now(worker.main())
"""


def test_a_comparison_member_on_a_full_disk_says_so_and_compare_resume_finishes_it(digits, tmp_path, monkeypatch):
    monkeypatch.setattr(worker, "COMMAND", [sys.executable, "-c", FULL_DISK_WORKER])
    monkeypatch.setenv("FULL_MEMBER", "02-mse-seed0")
    runs = tmp_path / "runs"
    args = ["compare", "--preset", "tiny", "--vary", "loss=nll,mse", "--seeds", "1", "--epochs", "3", "--jobs", "1",
            "--headless", "--data-dir", str(digits), "--runs", str(runs)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    out = result.output
    assert result.exit_code == 1, out
    assert "Traceback" not in out
    [folder] = runs.glob("*-compare")
    member = folder / "02-mse-seed0"
    assert f"02-mse-seed0  ({said(member, 'last.pt', 'epoch 1')})" in out, out
    assert f"free some space, then finish them with: mlp-tui compare --resume {folder} --headless" in out
    assert load_checkpoint(member / "last.pt")["epoch"] == 1

    monkeypatch.delenv("FULL_MEMBER")  # room again; what `compare --resume` runs (this process owns the folder)
    board = drive(folder, read_plan(folder / PLAN_FILE), jobs=1, data_dir=digits)
    assert all(s.finished for s in board.states)
    assert epochs_of(member) == [1, 2, 3] and read_events(member / "metrics.jsonl")[-1]["status"] == "completed"
