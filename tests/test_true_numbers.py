"""Every number names what it counts and is right: how many mistakes of how many, which split a
table counts, the rate the - and + keys scale (the run's, now), where a paused run stands for a
watcher, the Predictions tab's split while a run trains and after, the Model tab's rate after a
change, the setup summary while a field is bad, the Data tab's sample."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import socket

import pytest
from rich.console import Console
from textual.widgets import Input, ProgressBar, Static

from conftest import FakeRun, screen_text, wait_until
from mlp_tui.core.config import RunConfig
from mlp_tui.core.events import (
    BatchProgress,
    EpochEnd,
    Evaluation,
    LrChanged,
    Misclassified,
    Paused,
    RunFinished,
    RunStarted,
)  # fmt: skip
from mlp_tui.engine.control import Control
from mlp_tui.runs.follow import RunWatch
from mlp_tui.runs.status import read_command, write_command
from mlp_tui.runs.store import RunStore, read_events
from mlp_tui.views.tui.app import create_app
from mlp_tui.views.tui.screens.training import TrainingScreen
from mlp_tui.views.tui.widgets.model_summary import lr_words
from mlp_tui.views.tui.widgets.predictions_view import PredictionsView

SIZES = [(120, 40), (80, 24)]
BATCHES = 844


def started(run_dir="runs/test", config: RunConfig | None = None) -> RunStarted:
    return RunStarted(config=(config or RunConfig()).to_dict(), preset="tiny", device="cpu", summary="summary",
                      parameters=1, train_size=54_000, val_size=6_000, test_size=10_000,
                      run_dir=str(run_dir))  # fmt: skip


def progress(epoch: int, batch: int, lr: float | None = None) -> BatchProgress:
    return BatchProgress(epoch=epoch, epochs=10, batch=batch, batches=BATCHES, loss=0.3, accuracy=0.9,
                         samples_per_s=9000.0, lr=lr)  # fmt: skip


def epoch_end(epoch: int) -> EpochEnd:
    return EpochEnd(epoch=epoch, epochs=10, train_loss=0.4, train_accuracy=0.9, val_loss=0.3, val_accuracy=0.9,
                    lr=0.01, seconds=1.0, samples_per_s=9000.0, is_best=True)  # fmt: skip


def evaluation(split: str, wrong: int, kept: int, total: int = 6_000) -> Evaluation:
    """`wrong` mistakes among `total` images, of which the evaluation keeps the `kept` most confident."""
    per_class = total // 10
    correct = tuple(per_class - wrong // 10 - (1 if c < wrong % 10 else 0) for c in range(10))
    mistakes = tuple(Misclassified(index=i, pixels=bytes(784), predicted=(i + 1) % 10, true=i % 10,
                                   probabilities=tuple(0.9 if c == (i + 1) % 10 else 0.01 for c in range(10)))
                     for i in range(kept))  # fmt: skip
    confusion = tuple(
        tuple(correct[t] if p == t else per_class - correct[t] if p == (t + 1) % 10 else 0 for p in range(10))
        for t in range(10)
    )  # each class's mistakes: the next class
    return Evaluation(split=split, epoch=3, loss=0.2, accuracy=sum(correct) / total, class_correct=correct,
                      class_total=(per_class,) * 10, confusion=confusion, misclassified=mistakes)  # fmt: skip


def plain(widget: Static) -> str:
    console = Console(width=300, file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text()


async def open_training(pilot, app, run: FakeRun, config: RunConfig | None = None) -> TrainingScreen:
    screen = TrainingScreen(config or RunConfig(hidden=(16,), epochs=10), "tiny", run)
    await app.push_screen(screen)
    await wait_until(pilot, lambda: app.screen is screen)
    return screen


async def on_screen(pilot, app, text: str) -> str:
    await wait_until(pilot, lambda: text in screen_text(app))
    return screen_text(app)


# -- the Mistakes, Classes and Confusion tabs: how many of how many, and of which split ---------------


@pytest.mark.parametrize("size", SIZES)
def test_mistakes_classes_and_confusion_say_how_many_of_how_many_and_which_split(size, tmp_path):
    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=size) as pilot:
            run = FakeRun(started(), evaluation("val", wrong=253, kept=48))
            screen = await open_training(pilot, app, run)
            await pilot.press("3")
            # 48 is how many the tab keeps; the run got 253 of 6,000 validation images wrong
            await on_screen(pilot, app, "48 most confident of 253 mistakes on the validation set, epoch 3")
            await pilot.press("2")
            await on_screen(pilot, app, "validation, epoch 3")
            await pilot.press("4")
            await on_screen(pilot, app, "Confusion matrix on the validation set, epoch 3")

            run.send(evaluation("test", wrong=12, kept=12, total=10_000))  # the run's end: all of them kept
            await pilot.press("3")
            await on_screen(pilot, app, "all 12 mistakes on the test set (best weights, epoch 3)")
            await pilot.press("2")
            text = await on_screen(pilot, app, "test (best weights, epoch 3)")
            assert "validation, epoch 3" not in text
            assert screen.query_one("#classes-table").border_title == "test (best weights, epoch 3)"
            await pilot.press("4")
            await on_screen(pilot, app, "Confusion matrix on the test set (best weights, epoch 3)")

    asyncio.run(scenario())


# -- the learning rate the keys scale: the run's, when it takes the request ----------------------------


def test_the_lr_keys_scale_the_rate_the_run_has_when_it_takes_them(run_trainer, synthetic, make_config, monkeypatch):
    """With a schedule the rate moves every batch; a view's last word of it is old by the time
    the key's request is taken. The run halves its own rate, not the view's stale one."""
    from mlp_tui.engine import trainer as engine

    monkeypatch.setattr(engine, "TICK_S", 0.0)  # a progress event after every batch
    control = Control()
    seen: dict[int, float | None] = {}  # batch → the rate the run reported after it, in epoch 1

    def on_event(event) -> None:
        if isinstance(event, BatchProgress) and event.epoch == 1:
            seen[event.batch] = event.lr
            if event.batch == 8:  # a watcher that last heard of the rate at batch 3 presses -
                control.scale_lr(0.5)

    config = make_config(epochs=1, schedule="onecycle", lr=0.003)
    _, events, _ = run_trainer(config, synthetic, control=control, on_event=on_event)
    [changed] = [e for e in events if isinstance(e, LrChanged)]
    assert changed.batch == 8 and changed.previous == seen[8] != seen[3]  # the schedule moved in between
    assert seen[8] is not None and changed.lr == pytest.approx(seen[8] / 2)


def test_a_watcher_sends_a_factor_and_quick_presses_multiply(tmp_path):
    write_command(tmp_path, "resume")
    control = Control(lambda: read_command(tmp_path))  # the run's side of the control file
    control.on_command = lambda command: write_command(tmp_path, command)
    watch = RunWatch(tmp_path)
    watch.scale_lr(0.5)
    watch.scale_lr(0.5)  # before the run read the first: one request for a quarter
    assert read_command(tmp_path) == "lr *0.25"
    control._last_poll = 0.0
    control.poll()
    assert control.take_lr(0.00145) == pytest.approx(0.00145 / 4)  # of the rate the run has then
    assert read_command(tmp_path) == "resume"  # the state is back for `runs` and other watchers
    watch.set_lr(0.002)
    watch.scale_lr(0.5)  # a typed rate not read yet: halved in place
    assert read_command(tmp_path) == "lr 0.001"


# -- a paused run, as a watcher sees it ------------------------------------------------------------


def test_the_store_writes_the_progress_a_pause_cut_short(tmp_path):
    """metrics.jsonl keeps progress at most every 2 s; the last before a pause is kept too."""
    store = RunStore(tmp_path / "run")
    store.append(started(tmp_path / "run"))
    store.append(progress(1, BATCHES))  # an epoch's last batch: always kept
    store.append(epoch_end(1))
    store.append(progress(2, 10))  # within 2 s: thinned
    store.append(progress(2, 28))
    store.append(Paused(epoch=2, batch=28, by="watcher"))
    store.close()
    records = read_events(tmp_path / "run" / "metrics.jsonl")
    kinds = [(r["event"], r.get("epoch"), r.get("batch")) for r in records]
    assert kinds[-3:] == [("epoch_end", 1, None), ("batch_progress", 2, 28), ("paused", 2, 28)]


@pytest.mark.parametrize("size", SIZES)
def test_watch_shows_where_a_paused_run_stands(size, tmp_path):
    run_dir = tmp_path / "run"
    store = RunStore(run_dir)
    (run_dir / "process.json").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    config = RunConfig(hidden=(16,), epochs=10, batch_size=64)
    for event in (started(run_dir, config), progress(1, BATCHES), epoch_end(1), progress(2, 28),
                  Paused(epoch=2, batch=28, by="watcher")):  # fmt: skip
        store.append(event)
    store.close()

    async def scenario() -> None:
        app = create_app("tiny", config, watch=run_dir, runs_root=tmp_path)
        async with app.run_test(size=size) as pilot:
            screen = app.screen
            assert isinstance(screen, TrainingScreen)
            await wait_until(pilot, lambda: screen.run.status == "paused" and screen.run.latest is not None, timeout=30)
            await pilot.pause()
            status = plain(screen.query_one("#status", Static))
            assert "paused" in status and "epoch 2/10" in status, status  # not epoch 1 at 100 %
            assert plain(screen.query_one("#progress-text", Static)).startswith(" 28/844 ·")
            assert screen.query_one("#batch-progress", ProgressBar).progress == 28

    asyncio.run(scenario())


def test_a_pause_moves_the_bar_to_where_the_run_stopped(tmp_path):
    """Progress comes a few times a second; the pause says the batch exactly."""

    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            run = FakeRun(started(), progress(1, BATCHES), epoch_end(1), progress(2, 20))
            screen = await open_training(pilot, app, run)
            await wait_until(pilot, lambda: screen.run.latest is not None and screen.run.latest.batch == 20)
            run.send(Paused(epoch=2, batch=30, by="app"))
            await wait_until(pilot, lambda: screen.run.status == "paused")
            assert plain(screen.query_one("#progress-text", Static)).startswith(" 30/844 ·")
            assert "epoch 2/10" in plain(screen.query_one("#status", Static))
            run.send(Paused(epoch=3, batch=0, by="app"))  # before the new epoch's first progress
            await wait_until(pilot, lambda: screen.run.latest is not None and screen.run.latest.epoch == 3)
            text = plain(screen.query_one("#progress-text", Static))
            assert text.startswith(" 0/844 ·") and "loss" not in text  # epoch 2's running loss is not epoch 3's

    asyncio.run(scenario())


# -- the Model tab's learning rate ----------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_the_model_tab_shows_the_rate_the_run_has_after_a_change(size, tmp_path):
    config = RunConfig(hidden=(16,), optimizer="sgd", lr=0.1, lr_suggested=True)

    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=size) as pilot:
            run = FakeRun(started(config=config))
            screen = await open_training(pilot, app, run, config)
            summary = screen.query_one("#model-summary", Static)
            await wait_until(pilot, lambda: "lr 0.1 (suggested for sgd)" in plain(summary))
            run.send(LrChanged(epoch=2, batch=100, lr=0.05, previous=0.1))
            await wait_until(
                pilot, lambda: "lr 0.05 (changed by hand in epoch 2; suggested 0.1 for sgd)" in plain(summary)
            )
            await pilot.press("5")
            await on_screen(pilot, app, "lr 0.05 (changed by hand")

    asyncio.run(scenario())


def test_the_rate_words_say_where_the_rate_came_from():
    typed = RunConfig(lr=0.01)
    assert lr_words(typed, None) == "lr 0.01"
    change = LrChanged(epoch=3, batch=5, lr=0.0025, previous=0.005)
    assert lr_words(typed, change) == "lr 0.0025 (changed by hand in epoch 3; configured 0.01)"
    planned = LrChanged(epoch=3, batch=5, lr=0.0025, previous=0.005, planned=True)
    assert lr_words(typed, planned) == "lr 0.0025 (changed as planned in epoch 3; configured 0.01)"


# -- the setup summary while a field is bad --------------------------------------------------------


def test_the_setup_summary_says_it_is_of_the_last_valid_settings(tmp_path):
    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            field = app.screen.query_one("#f-hidden", Input)

            async def type_hidden(text: str) -> tuple[str, str]:
                field.focus()
                field.value = ""
                await pilot.press(*text)
                await pilot.pause()
                return plain(app.screen.query_one("#device", Static)), plain(app.screen.query_one("#summary", Static))

            device, summary = await type_hidden("32")
            assert "Summary of the last valid settings" not in device and "784-32-10" in device
            device, stale = await type_hidden("32,x")  # a bad value: the last valid model stays, said so
            assert field.has_class("-bad")
            assert "⚠ Summary of the last valid settings: fix the field marked in red to update it." in device
            assert "784-32-10" in device and stale == summary
            device, summary = await type_hidden("64")
            assert "last valid" not in device and "784-64-10" in device and summary != stale

    asyncio.run(scenario())


# -- the Predictions tab: validation while the run trains, test after --------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_predictions_show_the_validation_set_while_training_and_the_test_set_after(size, tiny_run, mnist_root):
    from mlp_tui.core.presets import load_preset_file

    config = load_preset_file(tiny_run / "config.toml").config
    best = [r for r in read_events(tiny_run / "metrics.jsonl") if r["event"] == "epoch_end" and r["is_best"]][-1]

    async def scenario() -> None:
        app = create_app("tiny", config, data_dir=mnist_root, runs_root=tiny_run.parent)
        async with app.run_test(size=size) as pilot:
            run = FakeRun(started(tiny_run, config))  # a run not finished: no test set for it yet
            screen = await open_training(pilot, app, run, config)
            await pilot.press("0")
            view = screen.query_one(PredictionsView)
            await wait_until(pilot, lambda: view.predictions is not None and view.drawn, timeout=60)
            text = await on_screen(pilot, app, "validation images")
            assert view.predictions is not None and view.predictions.split == "val" and "test images," not in text
            # (at 80 columns the header ends at a word: "… best.pt, epoch …")
            said = re.search(r"all 6,000 validation images, (\d+\.\d\d) % right · best\.pt, epoch (2|…)", text)
            assert said, text
            # as the run scored its best epoch on validation (one image is 0.0167 %)
            assert abs(float(said.group(1)) - best["val_accuracy"] * 100) < 0.02
            if size[0] == 120:
                assert "the test images: once the run has ended" in text

            run.send(RunFinished(status="completed", epochs_done=2, best_epoch=2, best_val_accuracy=0.9,
                                 test_loss=0.3, test_accuracy=0.9, seconds=2.0))  # fmt: skip
            await wait_until(
                pilot, lambda: view.predictions is not None and view.predictions.split == "test", timeout=60
            )
            text = await on_screen(pilot, app, "all 10,000 test images, ")
            assert "validation images" not in text

    asyncio.run(scenario())
