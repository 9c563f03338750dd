"""`mlp-tui run --headless` as a user runs it: in a pipe (a log), on a terminal, and stopped
with Ctrl+C. Each test starts the real command in a child process."""

from __future__ import annotations

import fcntl
import io
import os
import queue
import re
import select
import signal
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path

import pytest

from conftest import must_search
from mlp_tui.core.events import RunFailed
from mlp_tui.runs.store import load_checkpoint
from mlp_tui.views.console.headless import PlainPrinter, RichPrinter, make_printer

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
EPOCH_SUMMARY = re.compile(r"^epoch +(\d+)/(\d+)  train loss [\d.]+ acc ")
PROGRESS_COUNTER = re.compile(r"\b\d+/47\b")
TIMEOUT_S = 120


def only_run_dir(runs_root: Path) -> Path:
    dirs = [p for p in runs_root.iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def tiny_run_args(mnist_root: Path, runs_root: Path, epochs: int = 2) -> list[str]:
    return [
        "run", "--preset", "tiny", "--headless", "--epochs", str(epochs), "--subset", "3000",
        "--data-dir", str(mnist_root), "--runs", str(runs_root),
    ]  # fmt: skip


def test_in_a_pipe_output_is_plain_lines(mnist_root, tmp_path, cli_env, mlp_tui_cmd):
    proc = subprocess.run(
        [*mlp_tui_cmd, *tiny_run_args(mnist_root, tmp_path / "runs")],
        cwd=tmp_path,
        env=cli_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=TIMEOUT_S,
    )
    out = proc.stdout.decode("utf-8")
    assert proc.returncode == 0, out
    assert "\r" not in out and "\x1b" not in out, "escape codes or carriage returns in a log"
    lines = out.splitlines()
    epoch_lines = [line for line in lines if line.startswith("epoch")]
    assert len(epoch_lines) == 2, epoch_lines
    assert [must_search(EPOCH_SUMMARY, line).groups() for line in epoch_lines] == [("1", "2"), ("2", "2")]
    assert lines[0].startswith("mlp-tui: preset tiny  model 784-16-10")
    assert "Traceback" not in out
    # The end: test score, per-class table, then how to run it again.
    test_line = next(line for line in lines if line.startswith("Test loss"))
    assert "(completed, 2 epoch(s)" in test_line
    table = lines.index("Per-class test accuracy")
    assert lines[table + 1].startswith("class  accuracy")
    assert [line.split()[0] for line in lines[table + 2 : table + 12]] == [str(c) for c in range(10)]
    assert lines[-1] == "Reproduce with: mlp-tui run --preset tiny --headless --epochs 2 --subset 3000 --seed 0"
    run_dir = only_run_dir(tmp_path / "runs")
    report = (run_dir / "report.txt").read_text()
    assert "Per-class test accuracy" in report and report.rstrip().endswith(lines[-1])


def read_pty(master: int, proc: subprocess.Popen, deadline: float) -> bytes:
    """Everything the child writes to the terminal until it exits (EIO) or the deadline passes."""
    chunks = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its side
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_on_a_terminal_progress_is_drawn_and_epochs_summarised(mnist_root, tmp_path, cli_env, mlp_tui_cmd):
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = dict(cli_env, TERM="xterm-256color")
    try:
        proc = subprocess.Popen(
            [*mlp_tui_cmd, *tiny_run_args(mnist_root, tmp_path / "runs")],
            cwd=tmp_path,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
        )
        os.close(slave)
        raw = read_pty(master, proc, time.monotonic() + TIMEOUT_S)
        code = proc.wait(timeout=30)
    finally:
        os.close(master)
    out = raw.decode("utf-8", errors="replace")
    assert code == 0, out
    assert "\x1b[" in out, "no ANSI styling or cursor control on a terminal"
    text = ANSI.sub("", out)
    # The progress bar's batch counter: 3000 images in batches of 64 is 47 batches an epoch.
    assert PROGRESS_COUNTER.search(text), "no progress bar drawn"
    lines = list(re.split(r"[\r\n]+", text))
    summaries = [line for line in lines if EPOCH_SUMMARY.match(line)]
    assert [must_search(EPOCH_SUMMARY, line).groups() for line in summaries] == [("1", "2"), ("2", "2")]
    assert "Per-class test accuracy" in text
    assert "Reproduce with: mlp-tui run --preset tiny" in text
    assert "Traceback" not in text
    # The progress bar is gone before the final report is printed.
    report = text[text.index("Test loss") :]
    assert not PROGRESS_COUNTER.search(report), "a progress bar was redrawn inside the final report"


def test_ctrl_c_stops_saves_and_reports(mnist_root, tmp_path, cli_env, mlp_tui_cmd):
    runs = tmp_path / "runs"
    cmd = [*mlp_tui_cmd, "run", "--preset", "dropout", "--headless", "--epochs", "50", "--subset", "20000",
           "--data-dir", str(mnist_root), "--runs", str(runs)]  # fmt: skip
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        env=cli_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    stdout = proc.stdout
    assert stdout is not None

    def reader():
        for line in stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not any(line.startswith("epoch") for line in seen):
            remaining = deadline - time.monotonic()
            assert remaining > 0, "no epoch line in time:\n" + "".join(seen)
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, "the run ended before its first epoch:\n" + "".join(seen)
            seen.append(line)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    while (line := lines.get(timeout=30)) is not None:
        seen.append(line)
    out = "".join(seen)
    assert code == 130, out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out
    test_line = next(line for line in seen if line.startswith("Test loss"))
    assert "(interrupted," in test_line
    assert "Per-class test accuracy" in out
    # The dropout preset has a schedule: the line trains all 50 epochs, saying which ones match.
    assert seen[-1].startswith("Reproduce with (epoch")
    assert "; it was interrupted; this trains all 50" in seen[-1] and "): mlp-tui run --preset dropout" in seen[-1]
    epochs_done = sum(line.startswith("epoch") for line in seen)
    assert epochs_done < 50
    last = load_checkpoint(only_run_dir(runs) / "last.pt")
    assert last["partial_epoch"] is True
    assert last["epoch"] == epochs_done


# -- the printers, fed a real run's events in-process ---------------------------------------------


@pytest.fixture
def synthetic_events(synthetic, make_config, run_trainer):
    _, events, _ = run_trainer(make_config(epochs=2), synthetic)
    return events


def test_plain_printer_writes_one_line_per_epoch_and_the_report(synthetic_events):
    stream = io.StringIO()
    printer = make_printer(reproduce="mlp-tui run --preset tiny --headless --seed 0", stream=stream)
    assert type(printer) is PlainPrinter, "a stream that is not a terminal gets plain lines"
    for event in synthetic_events:
        printer.handle(event)
    out = stream.getvalue()
    assert "\r" not in out and "\x1b" not in out
    assert [line[:9] for line in out.splitlines() if line.startswith("epoch")] == ["epoch 1/2", "epoch 2/2"]
    assert "Confusion matrix" in out
    assert out.splitlines()[-1] == "Reproduce with: mlp-tui run --preset tiny --headless --seed 0"


def test_plain_printer_reports_a_failure_with_the_reproduce_line():
    stream = io.StringIO()
    printer = PlainPrinter(stream, reproduce="mlp-tui run --lr 1000000.0")
    printer.handle(
        RunFailed(reason="nan", message="training diverged: loss became nan at epoch 1, batch 4", epoch=1, batch=4)
    )
    assert stream.getvalue().splitlines() == [
        "mlp-tui: run failed: training diverged: loss became nan at epoch 1, batch 4",
        "",
        "Reproduce with: mlp-tui run --lr 1000000.0",
    ]


def test_rich_printer_closes_the_progress_bar_before_the_final_report(synthetic_events, monkeypatch):
    from rich.console import Console

    written = io.StringIO()
    console = Console(file=written, force_terminal=True, width=100, color_system="standard")
    printer = RichPrinter(console=console, reproduce="mlp-tui run --preset tiny --headless --seed 0")
    live_during_report = []
    real_print = console.print

    def spy(*objects, **kwargs):
        if objects and isinstance(objects[0], str) and objects[0].startswith("Test loss"):
            live_during_report.append(printer.progress.live.is_started)
        return real_print(*objects, **kwargs)

    monkeypatch.setattr(console, "print", spy)
    for event in synthetic_events:
        printer.handle(event)
    printer.close()
    assert live_during_report == [False], "the live progress display was still drawing during the report"
    out = written.getvalue()
    assert "\x1b[" in out
    text = ANSI.sub("", out)
    assert len([line for line in re.split(r"[\r\n]+", text) if EPOCH_SUMMARY.match(line)]) == 2
    assert "Reproduce with: mlp-tui run --preset tiny" in text
