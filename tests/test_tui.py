"""The app, driven as a user would with Textual's Pilot: choose, start, watch, page, quit."""

from __future__ import annotations

import asyncio
import io

import pytest
from rich.console import Console
from textual.widgets import Input, OptionList, Static

from conftest import screen_text, wait_until
from mlp_tui.core.events import RunFinished
from mlp_tui.views.tui.app import create_app
from mlp_tui.views.tui.dialogs import ConfirmDialog
from mlp_tui.views.tui.screens.setup import SetupScreen
from mlp_tui.views.tui.screens.training import TrainingScreen
from mlp_tui.views.tui.widgets.chart import MetricChart
from mlp_tui.views.tui.widgets.class_table import ClassTable
from mlp_tui.views.tui.widgets.gallery import MistakeGallery


def plain(widget: Static) -> str:
    """What a Static shows, as plain text (markup and styles rendered away)."""
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text()


async def choose_preset(pilot, app, name: str) -> None:
    presets = app.screen.query_one("#presets", OptionList)
    target = presets.get_option_index(name)
    presets.focus()
    while presets.highlighted != target:
        await pilot.press("down" if (presets.highlighted or 0) < target else "up")
    assert app.screen.preset == name


async def set_field(pilot, app, key: str, text: str) -> None:
    field = app.screen.query_one(f"#f-{key}", Input)
    field.focus()
    field.value = ""
    await pilot.press(*text)
    await pilot.pause()


async def start_training(pilot, app) -> TrainingScreen:
    """Press the start key and wait until the run's first batches are under way."""
    await pilot.press("ctrl+r")
    await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen))
    training = app.screen
    await wait_until(pilot, lambda: training.run.status == "running")
    return training


async def train_to_the_end(pilot, app) -> TrainingScreen:
    """Press the start key and wait until the run has finished (or failed)."""
    await pilot.press("ctrl+r")
    await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen))
    training = app.screen
    await wait_until(pilot, lambda: training.result is not None)
    return training


def run_short_training(size: tuple[int, int], mnist_root, tmp_path) -> None:
    async def scenario() -> None:
        app = create_app("dropout", data_dir=mnist_root, runs_root=tmp_path)
        async with app.run_test(size=size) as pilot:
            assert isinstance(app.screen, SetupScreen)
            await choose_preset(pilot, app, "tiny")
            await set_field(pilot, app, "epochs", "2")
            assert app.screen.config.epochs == 2
            screen = await train_to_the_end(pilot, app)
            assert screen.run.status == "finished", screen.result

            loss = screen.query_one("#loss-chart", MetricChart)
            acc = screen.query_one("#acc-chart", MetricChart)
            assert [e for e, _ in loss.points("train")] == [1, 2]
            assert [e for e, _ in loss.points("val")] == [1, 2]
            assert len(acc.points("val")) == 2

            table = screen.query_one("#classes-table", ClassTable)
            assert table.row_count == 10
            assert table.current is not None and table.current.split == "test"

            await pilot.press("3")  # the Mistakes tab: a page of them, the next with ]
            gallery = screen.query_one(MistakeGallery)
            assert len(gallery.mistakes) > gallery.per_page
            await wait_until(pilot, lambda: gallery.drawn and gallery.source is not None)
            first = gallery.shown
            await pilot.press("right_square_bracket")
            await wait_until(pilot, lambda: gallery.drawn and gallery.shown and gallery.shown != first)
            await pilot.pause()
            page = screen_text(app)
            assert f"✗ {gallery.shown[0].predicted} " in page and f"true {gallery.shown[0].true}" in page

            status = plain(screen.query_one("#status", Static))
            assert "test accuracy" in status
            assert list(tmp_path.glob("*-tiny/best.pt"))

            await pilot.press("n")  # back to setup for a new run
            await wait_until(pilot, lambda: isinstance(app.screen, SetupScreen))

    asyncio.run(scenario())


def test_short_run_at_120x40(mnist_root, tmp_path):
    run_short_training((120, 40), mnist_root, tmp_path)


def test_short_run_at_80x24(mnist_root, tmp_path):
    run_short_training((80, 24), mnist_root, tmp_path)


def test_fashion_mnist_chosen_on_the_setup_screen_names_its_classes_everywhere(tmp_path, idx_dataset):
    from textual.widgets import Select

    from mlp_tui.views.tui.widgets.confusion import ConfusionView

    idx_dataset(tmp_path / "data", "fashion-mnist", n_train=1500, n_test=300, noise=420.0)

    async def scenario() -> None:
        app = create_app("tiny", data_dir=tmp_path / "data", runs_root=tmp_path / "runs")
        async with app.run_test(size=(120, 40)) as pilot:
            assert isinstance(app.screen, SetupScreen)
            app.screen.query_one("#f-dataset", Select).value = "fashion-mnist"
            await set_field(pilot, app, "epochs", "1")
            assert app.screen.config.dataset == "fashion-mnist"
            screen = await train_to_the_end(pilot, app)
            assert screen.run.status == "finished", screen.result
            table = screen.query_one("#classes-table", ClassTable)
            assert [str(table.get_row_at(i)[0]) for i in (0, 7, 9)] == ["0 T-shirt/top", "7 Sneaker", "9 Ankle boot"]
            assert "7 Sneaker" in plain(screen.query_one(ConfusionView))
            await pilot.press("3")
            gallery = screen.query_one(MistakeGallery)
            await wait_until(pilot, lambda: gallery.drawn and gallery.source is not None)
            await pilot.pause()
            m = gallery.shown[0]
            page = screen_text(app)
            named = dict(enumerate(("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                    "Sneaker", "Bag", "Ankle boot")))  # fmt: skip
            assert f"✗ {m.predicted} {named[m.predicted]}" in page and f"true {m.true} {named[m.true]}" in page
            assert "Fashion-MNIST" in plain(screen.query_one("#model-summary", Static))

    asyncio.run(scenario())


def test_invalid_field_is_flagged_in_place_and_blocks_start(tmp_path):
    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=(100, 30)) as pilot:
            await set_field(pilot, app, "lr", "-1")
            field = app.screen.query_one("#f-lr", Input)
            assert field.has_class("-bad")
            errors = plain(app.screen.query_one("#form-errors", Static))
            assert "Learning rate" in errors and "> 0" in errors
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert isinstance(app.screen, SetupScreen)  # nothing started
            await set_field(pilot, app, "lr", "0.01")
            assert not field.has_class("-bad")
            assert app.screen.config.lr == 0.01

    asyncio.run(scenario())


def test_summary_follows_hidden_layers(tmp_path):
    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await set_field(pilot, app, "hidden", "32,16")
            summary = plain(app.screen.query_one("#summary", Static))
            # 784*32+32 + 32*16+16 + 16*10+10
            assert f"{784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10:,}" in summary

    asyncio.run(scenario())


def test_quit_during_run_asks_first_and_saves(mnist_root, tmp_path):
    async def scenario() -> None:
        app = create_app("dropout", data_dir=mnist_root, runs_root=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            training = await start_training(pilot, app)
            await pilot.press("q")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("n")  # changed my mind: the run goes on
            await wait_until(pilot, lambda: app.screen is training)
            assert training.run.going
            await pilot.press("ctrl+c")  # ctrl+c asks too
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await wait_until(pilot, lambda: not app.is_running, timeout=60)
        assert isinstance(training.result, RunFinished) and training.result.status == "stopped"
        assert list(tmp_path.glob("*-dropout/last.pt"))

    asyncio.run(scenario())


def test_pause_and_resume_from_keys(mnist_root, tmp_path):
    async def scenario() -> None:
        app = create_app("dropout", data_dir=mnist_root, runs_root=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            training = await start_training(pilot, app)
            await pilot.press("space")
            assert training.control.paused and "paused" in plain(training.query_one("#status", Static))
            await pilot.press("space")
            assert not training.control.paused
            await pilot.press("s")
            await wait_until(pilot, lambda: training.result is not None)
            assert isinstance(training.result, RunFinished) and training.result.status == "stopped"

    asyncio.run(scenario())


def test_missing_data_fails_in_app_and_app_keeps_running(tmp_path):
    # A damaged data file is refused before any download is tried, so this needs no network.
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 100)

    async def scenario() -> None:
        app = create_app("tiny", data_dir=tmp_path / "data", runs_root=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            training = await train_to_the_end(pilot, app)
            assert training.run.status == "failed"
            status = plain(training.query_one("#status", Static))
            assert "train-images-idx3-ubyte: image size: 0x0 pixels" in status
            await pilot.press("n")
            await wait_until(pilot, lambda: isinstance(app.screen, SetupScreen))
            assert app.is_running

    asyncio.run(scenario())


@pytest.mark.parametrize("size", [(50, 15)])
def test_too_small_terminal_says_so(size, tmp_path):
    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            notice = app.screen.query_one("#too-small", Static)
            assert notice.display and "too small" in plain(notice)

    asyncio.run(scenario())


def test_switching_to_sgd_suggests_a_learning_rate_unless_one_was_typed(tmp_path):
    from textual.widgets import Select

    async def scenario() -> None:
        app = create_app("dropout", runs_root=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert isinstance(screen, SetupScreen)
            from mlp_tui.core.presets import resolve_preset

            assert screen.config.lr == resolve_preset("dropout").config.lr  # untouched on opening
            screen.query_one("#f-loss", Select).value = "mse"
            screen.query_one("#f-optimizer", Select).value = "momentum"
            await pilot.pause()
            assert screen.config.loss == "mse" and screen.config.optimizer == "momentum"
            assert screen.config.lr == 0.2
            assert screen.query_one("#f-lr", Input).value == "0.2"

            await set_field(pilot, app, "lr", "0.03")
            screen.query_one("#f-optimizer", Select).value = "nesterov"
            await pilot.pause()
            assert screen.config.lr == 0.03  # the user's own choice stays

    asyncio.run(scenario())


def test_resuming_in_the_app_continues_the_charts(mnist_root, tmp_path):
    """A run stopped after two epochs and resumed in the app shows all its epochs, not just the
    new ones."""
    import subprocess
    import sys

    run_dir = tmp_path / "run"
    first = subprocess.run(
        [sys.executable, "-m", "mlp_tui", "run", "--preset", "tiny", "--headless", "--epochs", "4",
         "--subset", "5000", "--run-dir", str(run_dir), "--data-dir", str(mnist_root)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert first.returncode == 0
    # Make it look like it was killed after epoch 2: keep its records up to the second epoch_end.
    import json

    from mlp_tui.runs.store import read_events

    records = read_events(run_dir / "metrics.jsonl")
    cut = [i for i, r in enumerate(records) if r["event"] == "epoch_end"][1]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[: cut + 2]))
    from mlp_tui.runs.store import atomic_save, load_checkpoint

    # last.pt from the end of epoch 4 would finish at once; rewind its counter for the test
    last = load_checkpoint(run_dir / "last.pt")
    last["epoch"] = 2
    atomic_save(last, run_dir / "last.pt")

    async def scenario() -> None:
        from mlp_tui.runs.launch import load_resume

        resumed = load_resume(run_dir)
        app = create_app("tiny", resumed.config, autostart=True, data_dir=mnist_root, runs_root=tmp_path,
                         resume=run_dir)  # fmt: skip
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen))
            screen = app.screen
            assert isinstance(screen, TrainingScreen)
            await wait_until(pilot, lambda: screen.result is not None)
            assert screen.run.status == "finished", screen.result
            epochs = [e for e, _ in screen.query_one("#loss-chart", MetricChart).points("train")]
            assert epochs == [1, 2, 3, 4]

    asyncio.run(scenario())
