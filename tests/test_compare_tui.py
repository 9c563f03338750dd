"""The compare screen and the setup screen's compare mode, driven as a user would with Pilot.

Most comparisons here are written by hand (their members' metrics.jsonl made of engine events),
so nothing trains; one test looks at a comparison `mlp-tui compare --headless` really trained."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Input, SelectionList, Static

from conftest import wait_until
from mlp_tui.core.config import RunConfig
from mlp_tui.core.events import EpochEnd, RunFinished, RunStarted
from mlp_tui.runs.compare.board import Board
from mlp_tui.runs.compare.existing import plan_from_runs
from mlp_tui.runs.compare.grid import Axis, build_grid
from mlp_tui.runs.compare.plan import PLAN_FILE, Plan, new_comparison, read_plan
from mlp_tui.views.tui import app as app_module
from mlp_tui.views.tui.app import create_app
from mlp_tui.views.tui.dialogs import ConfirmDialog, PickDialog
from mlp_tui.views.tui.screens.compare import CompareScreen
from mlp_tui.views.tui.screens.member import MemberScreen
from mlp_tui.views.tui.screens.setup import SetupScreen
from mlp_tui.views.tui.widgets.compare_chart import CompareChart
from mlp_tui.views.tui.widgets.compare_form import CompareForm
from mlp_tui.views.tui.widgets.leaderboard import Leaderboard

SIZES = [(120, 40), (80, 24)]


# -- helpers --------------------------------------------------------------------------------------


def plain(widget: Static) -> str:
    console = Console(width=300, file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text()


async def chart_shows(pilot, chart: CompareChart, *words: str) -> str:
    """Wait until the chart (drawn on a worker thread) shows every word; what it shows, as text."""
    await wait_until(pilot, lambda: all(word in chart.text for word in words))
    return chart.text


def leaderboard_names(board: Leaderboard) -> list[str]:
    return [board.get_row_at(i)[1].plain.removeprefix("━ ") for i in range(board.row_count)]


def record(event, t: float) -> str:
    return json.dumps(event.to_dict() | {"t": t}) + "\n"


def write_member(path: Path, config: RunConfig, accuracy: float, epochs_done: int, *, finished: bool = True) -> None:
    """A member's metrics.jsonl as its run would have written it: accuracies rising to `accuracy`."""
    path.mkdir(parents=True, exist_ok=True)
    now = time.time()
    lines = [record(RunStarted(config=config.to_dict(), preset="tiny", device="CPU", summary="784-16-10",
                               parameters=12730, train_size=1800, val_size=200, test_size=500,
                               run_dir=str(path), time=now), now)]  # fmt: skip
    for e in range(1, epochs_done + 1):
        lines.append(record(epoch_end(e, config.epochs, accuracy), now))
    if finished:
        lines.append(record(RunFinished(status="completed", epochs_done=epochs_done, best_epoch=epochs_done,
                                        best_val_accuracy=accuracy, test_loss=0.3, test_accuracy=accuracy,
                                        seconds=1.5 * epochs_done), now))  # fmt: skip
    (path / "metrics.jsonl").write_text("".join(lines))


def epoch_end(e: int, epochs: int, accuracy: float) -> EpochEnd:
    return EpochEnd(epoch=e, epochs=epochs, train_loss=1 / e, train_accuracy=accuracy - 0.05 / e,
                    val_loss=1.2 / e, val_accuracy=accuracy - 0.1 / e, lr=0.001, seconds=1.5, samples_per_s=1000.0,
                    is_best=True)  # fmt: skip


def hand_made_comparison(root: Path, *, running: bool = False) -> tuple[Path, Plan]:
    """tiny × loss=nll,mse × 2 seeds; mse ahead. With `running`, mse's second seed is at epoch 1."""
    base = RunConfig(hidden=(16,), epochs=3, device="cpu")
    variants = build_grid([("tiny", base)], [Axis("loss", ("nll", "mse"))], {})
    plan = Plan(variants, 2, ["loss=nll,mse"], "preset tiny")
    folder = new_comparison(plan, root)
    accuracy = {("nll", 0): 0.90, ("nll", 1): 0.91, ("mse", 0): 0.95, ("mse", 1): 0.96}
    for member in plan.members(folder):
        loss = member.variant.settings["loss"]
        if running and (loss, member.seed) == ("mse", 1):
            write_member(member.path, member.config, 0.96, 1, finished=False)
        else:
            write_member(member.path, member.config, accuracy[(loss, member.seed)], 3)
    return folder, plan


async def open_compare(pilot, app) -> CompareScreen:
    await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen))
    screen = app.screen
    await wait_until(pilot, lambda: screen.view is not None and screen.query_one(Leaderboard).row_count > 0)
    return screen


# -- the compare screen ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_compare_screen_shows_every_variant_in_legend_and_leaderboard(size, tmp_path):
    folder, plan = hand_made_comparison(tmp_path)

    async def scenario() -> None:
        app = create_app(runs_root=tmp_path, compare=Board(plan, folder))
        async with app.run_test(size=size) as pilot:
            screen = await open_compare(pilot, app)
            await pilot.pause()
            header = plain(screen.query_one("#compare-header", Static))
            assert folder.name in header and "2 variants × 2 seeds" in header and "4/4 finished" in header
            assert "✔ done" in header

            table = screen.query_one(Leaderboard)
            assert leaderboard_names(table) == ["mse", "nll"]  # ranked: mse is ahead
            assert table.get_row_at(0)[2].plain == "95.50 ± 0.71"
            assert table.get_row_at(0)[3].plain == "leader"
            for chart_id in ("#compare-acc", "#compare-loss"):
                chart = screen.query_one(chart_id, CompareChart)
                await chart_shows(pilot, chart, "nll", "mse")  # the legend names both variants
                assert chart.legend == ["nll", "mse"]
            await chart_shows(pilot, screen.query_one("#compare-acc", CompareChart), "validation accuracy")

            notes = plain(screen.query_one("#compare-summary", Static))
            assert "mse beats nll" in notes or "mse vs nll" in notes
            assert "Welch's t-test" in notes
            # Nothing drives a finished comparison: no stop key; quitting asks nothing.
            assert "s" not in screen.active_bindings
            await pilot.press("q")
            await wait_until(pilot, lambda: not app.is_running)

    asyncio.run(scenario())


def test_means_and_spread_over_seeds_per_epoch(tmp_path):
    folder, plan = hand_made_comparison(tmp_path, running=True)

    async def scenario() -> None:
        app = create_app(runs_root=tmp_path, compare=Board(plan, folder))
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_compare(pilot, app)
            curves = {c.name: c for c in screen.query_one("#compare-acc", CompareChart).curves}
            mse = curves["mse"]
            assert mse.epochs == (1, 2, 3)
            # epoch 1: both seeds (0.95 - 0.1 and 0.96 - 0.1); later epochs: seed 0 only.
            assert mse.mean[0] == pytest.approx(85.5) and (mse.low[0], mse.high[0]) == pytest.approx((85, 86))
            assert mse.mean[1] == pytest.approx(90.0) and mse.low[1] == mse.high[1]
            assert screen.view is not None
            row = next(r for r in screen.view.rows if r.name == "mse")
            assert "1 running" in row.status and row.accuracy == "95.00 %"  # over the finished seed only
            assert row.progress == pytest.approx(4 / 6)
            table = screen.query_one(Leaderboard)
            assert table.get_row_at(0)[4].plain.endswith("4/6 ep")

    asyncio.run(scenario())


def test_g_hides_the_legends_that_cover_the_curves_and_shows_them_again(tmp_path):
    folder, plan = hand_made_comparison(tmp_path)

    async def scenario() -> None:
        app = create_app(runs_root=tmp_path, compare=Board(plan, folder))
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_compare(pilot, app)
            chart = screen.query_one("#compare-acc", CompareChart)
            await chart_shows(pilot, chart, "nll", "mse")
            await pilot.press("g")
            await wait_until(pilot, lambda: "nll" not in chart.text and "mse" not in chart.text)
            assert "validation accuracy" in chart.text  # the chart itself is still there
            names = leaderboard_names(screen.query_one(Leaderboard))
            assert sorted(names) == ["mse", "nll"]  # the leaderboard still names every variant
            await pilot.press("g")
            await chart_shows(pilot, chart, "nll", "mse")

    asyncio.run(scenario())


@pytest.mark.parametrize("size", SIZES)
def test_enter_opens_a_member_and_escape_comes_back(size, tmp_path):
    folder, plan = hand_made_comparison(tmp_path)

    async def scenario() -> None:
        app = create_app(runs_root=tmp_path, compare=Board(plan, folder))
        async with app.run_test(size=size) as pilot:
            compare = await open_compare(pilot, app)
            await pilot.press("enter")  # the leader, mse: its best seed
            await wait_until(pilot, lambda: isinstance(app.screen, MemberScreen))
            member = app.screen
            assert isinstance(member, MemberScreen)
            assert member.run_dir_path == folder / "02-mse-seed1"
            await wait_until(pilot, lambda: member.run.status == "finished")
            status = plain(member.query_one("#status", Static))
            assert "test accuracy 96.00 %" in status
            assert "escape" in member.active_bindings
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is compare)

            await pilot.press("down", "m")  # nll: choose the seed
            await wait_until(pilot, lambda: isinstance(app.screen, PickDialog))
            await pilot.press("up", "enter")  # the best one (seed 1) was offered first; seed 0 is above it
            await wait_until(pilot, lambda: isinstance(app.screen, MemberScreen))
            assert isinstance(app.screen, MemberScreen) and app.screen.run_dir_path == folder / "01-nll-seed0"
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is compare)

    asyncio.run(scenario())


@pytest.mark.parametrize("size", SIZES)
def test_t_toggles_training_and_validation_curves(size, tmp_path):
    folder, plan = hand_made_comparison(tmp_path)

    async def scenario() -> None:
        app = create_app(runs_root=tmp_path, compare=Board(plan, folder))
        async with app.run_test(size=size) as pilot:
            screen = await open_compare(pilot, app)
            acc, loss = screen.query_one("#compare-acc", CompareChart), screen.query_one("#compare-loss", CompareChart)
            assert acc.title.startswith("validation accuracy") and loss.title.startswith("validation loss")
            val = acc.curves
            await pilot.press("t")
            assert acc.title.startswith("training accuracy") and loss.title.startswith("training loss")
            await chart_shows(pilot, acc, "training accuracy")
            assert acc.curves != val and {c.name for c in acc.curves} == {"nll", "mse"}
            assert "training curves" in plain(screen.query_one("#compare-header", Static))
            await pilot.press("t")
            assert acc.title.startswith("validation accuracy")

    asyncio.run(scenario())


@pytest.mark.parametrize("size, note", [((120, 40), "(identical to nll)"), ((80, 24), "(= nll)")])
def test_identical_variants_show_as_a_tie_with_both_curves(size, note, tmp_path):
    """nll and cross-entropy are one objective: a tie, said in words, neither curve hidden."""
    base = RunConfig(hidden=(16,), epochs=3, device="cpu")
    variants = build_grid([("tiny", base)], [Axis("loss", ("nll", "cross-entropy"))], {})
    plan = Plan(variants, 2, ["loss=nll,cross-entropy"])
    folder = new_comparison(plan, tmp_path)
    for member in plan.members(folder):
        write_member(member.path, member.config, (0.90, 0.91)[member.seed], 3)

    async def scenario() -> None:
        app = create_app(runs_root=tmp_path, compare=Board(plan, folder))
        async with app.run_test(size=size) as pilot:
            screen = await open_compare(pilot, app)
            table = screen.query_one(Leaderboard)
            rows = [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]
            assert [(r[0], r[1].removeprefix("━ "), r[3]) for r in rows] == [
                ("=1", "nll", "leader"),
                ("=1", "cross-entropy", "identical to nll"),
            ]
            notes = plain(screen.query_one("#compare-summary", Static))
            assert "nll and cross-entropy gave identical results for every seed: the same objective" in notes
            assert "no difference" not in notes

            acc = screen.query_one("#compare-acc", CompareChart)
            text = await chart_shows(pilot, acc, f"cross-entropy {note}")
            assert text.count("x") == 2 + 3  # cross-entropy: "xx" in the legend, a mark at each epoch
            assert sum("\u2801" <= ch <= "\u28ff" for ch in text) > 2 + 10  # nll: "⢕⢕" and its line
            assert max(float(line.split("┤")[0]) for line in text.splitlines() if "┤" in line) <= 100
            assert "log scale" not in screen.query_one("#compare-loss", CompareChart).title  # one kind of loss

    asyncio.run(scenario())


def test_new_epochs_show_up_while_the_screen_is_open(tmp_path):
    folder, plan = hand_made_comparison(tmp_path, running=True)
    late = folder / "02-mse-seed1"

    async def scenario() -> None:
        app = create_app(runs_root=tmp_path, compare=Board(plan, folder))
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_compare(pilot, app)
            assert "3/4 finished" in plain(screen.query_one("#compare-header", Static))
            with open(late / "metrics.jsonl", "a") as f:
                now = time.time()
                for e in (2, 3):
                    f.write(record(epoch_end(e, 3, 0.96), now))
                f.write(record(RunFinished(status="completed", epochs_done=3, best_epoch=3, best_val_accuracy=0.96,
                                           test_loss=0.3, test_accuracy=0.96, seconds=4.5), now))  # fmt: skip
            await wait_until(pilot, lambda: "4/4 finished" in plain(screen.query_one("#compare-header", Static)))
            mse = next(c for c in screen.query_one("#compare-acc", CompareChart).curves if c.name == "mse")
            assert mse.low[2] < mse.high[2]  # both seeds at epoch 3 now
            assert screen.query_one(Leaderboard).get_row_at(0)[2].plain == "95.50 ± 0.71"

    asyncio.run(scenario())


def test_runs_trained_apart_are_shown_without_a_stop_key(tmp_path):
    folder, plan = hand_made_comparison(tmp_path)
    paths = [m.path for m in plan.members(folder)]
    for path, member in zip(paths, plan.members(folder), strict=True):  # `compare RUN RUN` reads config.toml
        text = "\n".join(f"{k} = {json.dumps(v)}" for k, v in member.config.to_dict().items())
        (path / "config.toml").write_text(f'description = "resolved config of run {path.name} (preset tiny)"\n{text}\n')
    other_plan, members = plan_from_runs(paths)

    async def scenario() -> None:
        app = create_app(runs_root=tmp_path, compare=Board(other_plan, Path("."), members))
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_compare(pilot, app)
            assert leaderboard_names(screen.query_one(Leaderboard)) == ["mse", "nll"]
            assert "s" not in screen.active_bindings and "n" not in screen.active_bindings
            header = plain(screen.query_one("#compare-header", Static))
            assert "runs compared side by side" in header

    asyncio.run(scenario())


# -- a driver this app starts ---------------------------------------------------------------------


class FakeDriver:
    """Stands in for the driver process: running until the comparison's stop file says stop."""

    def __init__(self, folder: Path, rc: int | None = None) -> None:
        self.folder, self.rc = folder, rc

    def poll(self) -> int | None:
        if self.rc is None and (self.folder / "control").is_file():
            self.rc = 0
        return self.rc


def test_compare_mode_on_the_setup_screen_builds_and_starts_a_plan(tmp_path, monkeypatch):
    started = []

    def start_driver(folder, *, jobs=None, data_dir=None, device=None):
        started.append((Path(folder), data_dir))
        return FakeDriver(Path(folder))

    monkeypatch.setattr(app_module, "start_driver", start_driver)

    async def scenario(size) -> Path:
        runs = tmp_path / f"runs-{size[0]}"
        app = create_app("tiny", data_dir=tmp_path / "data", runs_root=runs)
        async with app.run_test(size=size) as pilot:
            setup = app.screen
            assert isinstance(setup, SetupScreen)
            assert "ctrl+k" in setup.active_bindings
            await pilot.press("ctrl+k")
            await wait_until(pilot, lambda: isinstance(app.focused, SelectionList))
            assert isinstance(app.focused, SelectionList) and app.focused.id == "vary-loss" and setup.comparing
            await pilot.press("space", "down", "down", "space")  # nll and mse
            await pilot.press("tab")
            assert app.focused.id == "vary-hidden"  # the depths, built from the preset's 16 units
            await pilot.press("down", "space")  # 16,16 only: one value sets it for every variant
            seeds = setup.query_one("#compare-seeds", Input)
            seeds.value = "2"
            await pilot.pause()
            preview = plain(setup.query_one("#compare-plan", Static))
            assert "2 variants × 2 seeds = 4 runs" in preview and "nll; mse" in preview
            await pilot.press("ctrl+r")
            compare = await open_compare(pilot, app)
            header = plain(compare.query_one("#compare-header", Static))
            assert "2 variants × 2 seeds" in header and "training" in header
            assert "s" in compare.active_bindings
            assert leaderboard_names(compare.query_one(Leaderboard)) == ["nll", "mse"]

            await pilot.press("q")  # this app trains it: asks, then stops it (saved) and quits
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await wait_until(pilot, lambda: not app.is_running)
        ((folder, data_dir),) = started[-1:]
        assert data_dir == tmp_path / "data"
        assert (folder / "control").read_text().strip() == "stop"
        return folder

    for size in SIZES:
        folder = asyncio.run(scenario(size))
        assert folder.parent == tmp_path / f"runs-{size[0]}"
        plan = read_plan(folder / PLAN_FILE)
        assert plan.seeds == 2 and [v.name for v in plan.variants] == ["nll", "mse"]
        assert all(v.config.hidden == (16, 16) and v.preset == "tiny" for v in plan.variants)
        assert plan.vary == ["loss=nll,mse"]


def test_compare_mode_refuses_too_many_runs_in_the_form(tmp_path, monkeypatch):
    monkeypatch.setattr(app_module, "start_driver", lambda *a, **k: pytest.fail("nothing should start"))

    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            setup = app.screen
            assert isinstance(setup, SetupScreen)
            await pilot.press("ctrl+k")
            await wait_until(pilot, lambda: isinstance(app.focused, SelectionList))
            form = setup.query_one("#compare-form", CompareForm)
            form.tick("optimizer", "sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad", "adadelta")
            form.tick("loss", "nll", "cross-entropy", "mse")
            await pilot.pause()
            preview = plain(setup.query_one("#compare-plan", Static))
            assert "24 variants × 3 seeds = 72 runs, more than 64" in preview
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert isinstance(app.screen, SetupScreen)
            await pilot.press("ctrl+k")  # back to a single run: the start key trains one run again
            assert not setup.comparing and "ctrl+r" in setup.active_bindings
            assert setup.active_bindings["ctrl+r"].binding.description == "Start training"
            assert not setup.query_one("#compare-form").display

    asyncio.run(scenario())


def test_a_failing_driver_is_reported_with_its_log(tmp_path, monkeypatch):
    def start_driver(folder, *, jobs=None, data_dir=None, device=None):
        (Path(folder) / "driver.log").write_text("starting\nmlp-tui: error: no MNIST under /nowhere\n")
        return FakeDriver(Path(folder), rc=2)

    monkeypatch.setattr(app_module, "start_driver", start_driver)
    folder, plan = hand_made_comparison(tmp_path)

    async def scenario() -> None:
        app = create_app(runs_root=tmp_path, compare=Board(plan, folder), drive={"jobs": None, "device": None,
                                                                                 "data_dir": None})  # fmt: skip
        async with app.run_test(size=(120, 40)) as pilot:
            await open_compare(pilot, app)
            await wait_until(
                pilot, lambda: any("no MNIST under /nowhere" in str(n.message) for n in app._notifications)
            )

    asyncio.run(scenario())


# -- a comparison really trained -------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_comparison(tmp_path_factory, mnist_root) -> Path:
    runs = tmp_path_factory.mktemp("compare-runs")
    proc = subprocess.run(
        [sys.executable, "-m", "mlp_tui", "compare", "--preset", "tiny", "--vary", "loss=nll,mse", "--seeds", "2",
         "--subset", "2000", "--epochs", "2", "--headless", "--runs", str(runs), "--data-dir", str(mnist_root)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (folder,) = [p for p in runs.iterdir() if (p / PLAN_FILE).is_file()]
    return folder


def test_a_trained_comparison_opens_a_real_member(trained_comparison, tmp_path):
    from mlp_tui.views.tui.widgets.class_table import ClassTable

    plan = read_plan(trained_comparison / PLAN_FILE)

    async def scenario() -> None:
        app = create_app(runs_root=trained_comparison.parent, compare=Board(plan, trained_comparison))
        async with app.run_test(size=(120, 40)) as pilot:
            compare = await open_compare(pilot, app)
            assert "4/4 finished" in plain(compare.query_one("#compare-header", Static))
            assert sorted(leaderboard_names(compare.query_one(Leaderboard))) == ["mse", "nll"]
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, MemberScreen))
            member = app.screen
            assert isinstance(member, MemberScreen)
            await wait_until(pilot, lambda: member.run.status == "finished")
            assert member.query_one("#classes-table", ClassTable).row_count == 10
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is compare)

    asyncio.run(scenario())
