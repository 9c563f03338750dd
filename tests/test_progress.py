"""Progress that keeps time: the ETA moves within an epoch (and holds still while paused), and a
pause or resume is an event every view tells: the log prints it, `watch` shows it."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import socket
import time

import pytest

from conftest import CPU, wait_until
from mlp_tui.core.events import BatchProgress, Paused, Resumed, from_dict
from mlp_tui.engine.control import Control
from mlp_tui.engine.trainer import Trainer
from mlp_tui.runs.status import run_status
from mlp_tui.views.console.headless import PlainPrinter, RichPrinter
from mlp_tui.views.eta import clock, duration, epoch_left, run_left


def progress(epoch: int, batch: int, *, batches: int = 100, rate: float = 1000.0, epochs: int = 5) -> BatchProgress:
    """At the default pace an epoch of 100 batches of 10 images takes 1 s."""
    return BatchProgress(epoch=epoch, epochs=epochs, batch=batch, batches=batches, loss=0.5, accuracy=0.9,
                         samples_per_s=rate)  # fmt: skip


# -- the estimate ----------------------------------------------------------------------------------


def test_in_the_first_epoch_the_eta_comes_from_its_own_pace():
    # Half of epoch 1 left, then 4 more epochs at the same pace: 4.5 s, not "--:--".
    assert run_left(5, 0, [], progress(1, 50), batch_size=10) == pytest.approx(4.5)
    assert epoch_left(progress(1, 50), batch_size=10) == pytest.approx(0.5)


def test_the_eta_counts_down_within_an_epoch():
    lefts = [run_left(5, 2, [2.0, 2.0], progress(3, b, rate=500.0), batch_size=10) for b in (0, 25, 50, 75, 100)]
    # The rest of epoch 3 at its pace (2 s a whole epoch), then 2 epochs at the mean of those done.
    assert lefts == pytest.approx([6.0, 5.5, 5.0, 4.5, 4.0])


def test_between_epochs_it_is_the_epochs_left_at_their_mean_time():
    # The report of an epoch that has ended says nothing more about the time left.
    assert run_left(5, 2, [2.0, 4.0], progress(2, 100), batch_size=10) == pytest.approx(9.0)
    assert run_left(5, 2, [2.0, 4.0], None, batch_size=10) == pytest.approx(9.0)
    assert run_left(5, 5, [2.0] * 5, progress(5, 100), batch_size=10) == 0.0


def test_no_estimate_before_anything_says_how_fast_the_run_goes():
    assert run_left(5, 0, [], None, batch_size=10) is None
    assert run_left(5, 0, [], progress(1, 0, rate=0.0), batch_size=10) is None
    assert clock(None) == "--:--"


def test_times_read_as_clocks_and_spans():
    assert [clock(s) for s in (0, 65.9, 3600 + 62)] == ["00:00", "01:05", "1:01:02"]
    assert [duration(s) for s in (0.2, 12, 185, 3720)] == ["0 s", "12 s", "3 min 5 s", "1 h 2 min"]


# -- pause and resume in the event stream -------------------------------------------------------


def pause_once_in_epoch_2(synthetic, make_config, printer) -> list:
    """A run asked to pause in its second epoch by a watcher; it is resumed as soon as it says
    it has paused (the loop is then waiting, so the order is fixed: no timing involved)."""
    control, events = Control(), []

    def emit(event) -> None:
        events.append(event)
        printer.handle(event)
        if isinstance(event, BatchProgress) and event.epoch == 2 and event.batch == 5:
            control.apply("pause", by="watcher")
        elif isinstance(event, Paused):
            control.apply("resume", by="watcher")

    Trainer(make_config(epochs=3), synthetic, CPU, emit=emit, control=control, progress_interval=0).run()
    return events


def test_the_log_says_when_a_watcher_paused_and_resumed_the_run(synthetic, make_config):
    stream = io.StringIO()
    events = pause_once_in_epoch_2(synthetic, make_config, PlainPrinter(stream))
    lines = stream.getvalue().splitlines()
    paused = lines.index("paused in epoch 2, after batch 5 (from a watcher)")
    assert re.fullmatch(r"resumed after \d+ s \(from a watcher\)", lines[paused + 1])
    epochs = [i for i, line in enumerate(lines) if line.startswith("epoch ")]
    assert epochs[0] < paused < epochs[1], "said between the summaries of epochs 1 and 2"
    # The events carry it for every other view, and survive metrics.jsonl's round trip.
    said = [e for e in events if isinstance(e, (Paused, Resumed))]
    assert [(type(e), e.epoch, e.batch, e.by) for e in said] == [(Paused, 2, 5, "watcher"), (Resumed, 2, 5, "watcher")]
    assert [from_dict(json.loads(json.dumps(e.to_dict()))) for e in said] == said


def test_the_progress_bar_shows_the_time_left_and_the_pause(synthetic, make_config, monkeypatch):
    from rich.console import Console

    written = io.StringIO()
    console = Console(file=written, force_terminal=True, width=160, color_system=None)
    printer = RichPrinter(console=console)
    shown: list[str] = []
    real_handle = printer.handle

    def handle(event) -> None:
        real_handle(event)
        if printer.task is not None:
            shown.append(printer.progress.tasks[0].fields["left"])

    monkeypatch.setattr(printer, "handle", handle)
    pause_once_in_epoch_2(synthetic, make_config, printer)
    printer.close()
    assert "paused" in shown
    assert re.fullmatch(r"epoch \d\d:\d\d left, ETA \d\d:\d\d", shown[0]), shown[0]  # from the first batch on
    assert "paused in epoch 2, after batch 5 (from a watcher)" in written.getvalue()


def test_at_80_columns_the_bar_keeps_its_counter_and_the_eta():
    from rich.console import Console

    written = io.StringIO()
    console = Console(file=written, force_terminal=True, width=80, color_system=None)
    printer = RichPrinter(console=console)
    printer.handle(progress(10, 113, batches=211, rate=16910.0, epochs=10))
    printer.close()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", written.getvalue())
    bar = [line for line in re.split(r"[\r\n]+", text) if "img/s" in line][-1]
    assert re.search(r"113/211 .* ETA 00:00$", bar.rstrip()), bar


# -- watch ---------------------------------------------------------------------------------------


def test_watch_shows_a_run_paused_in_its_first_epoch_with_its_eta(synthetic, make_config, tmp_path):
    """A run directory as a live run paused by a watcher leaves it: started, a progress report
    halfway through epoch 1, then Paused; `watch` says paused, with an ETA already."""
    from textual.widgets import Static

    from mlp_tui.views.tui.app import create_app
    from mlp_tui.views.tui.screens.training import TrainingScreen

    config = make_config(epochs=4, batch_size=10)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "process.json").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    now = time.time()
    records = [
        {"event": "run_started", "config": config.to_dict(), "preset": "test", "device": "CPU", "summary": "",
         "parameters": 0, "train_size": 1000, "val_size": 0, "test_size": 0, "run_dir": str(run_dir), "t": now},
        progress(1, 50, epochs=4).to_dict() | {"t": now},
        Paused(epoch=1, batch=50, by="watcher").to_dict() | {"t": now},
    ]  # fmt: skip
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert run_status(run_dir) == "paused"  # the run's own word, whatever the control file says

    async def scenario() -> None:
        app = create_app("test", config, watch=run_dir, runs_root=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert isinstance(screen, TrainingScreen)
            await wait_until(pilot, lambda: screen.run.latest is not None and screen.run.status == "paused", timeout=30)
            status = str(screen.query_one("#status", Static).content)
            # Half an epoch plus three more at 1000 images/s in batches of 10 (100 batches): 3.5 s.
            assert "paused" in status and "ETA 00:03" in status, status
            resumed = Resumed(epoch=1, batch=50, seconds=12.0, by="watcher").to_dict() | {"t": now}
            with open(run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(resumed) + "\n")
            await wait_until(pilot, lambda: screen.run.status == "running", timeout=30)

    asyncio.run(scenario())
