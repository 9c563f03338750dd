"""Every screen's footer at 80 columns (and 120): the way out (`q Quit`, or `esc Back`) is always
there, every key shown is whole (no cut word, nothing drawn under the palette key), and a run
that is over offers no keys that no longer do anything."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import pytest

from conftest import FakeRun, wait_until
from mlp_tui.core.events import RunFailed, RunFinished
from mlp_tui.runs.compare.board import Board
from mlp_tui.views.tui.app import create_app
from mlp_tui.views.tui.screens.compare import CompareScreen
from mlp_tui.views.tui.screens.data import DataScreen
from mlp_tui.views.tui.screens.member import MemberScreen
from mlp_tui.views.tui.screens.setup import SetupScreen
from mlp_tui.views.tui.widgets.fit_text import shorten
from mlp_tui.views.tui.widgets.fitted_footer import FittedFooter, keys_to_show
from mlp_tui.views.tui.widgets.lr_dialog import LrDialog
from test_compare_tui import hand_made_comparison
from test_health_tui import CONFIG, open_training, screen_lines, two_epochs

TABS = ["charts", "classes", "mistakes", "confusion", "model", "health", "weights", "draw", "data", "predictions"]
KEYS = "1234567890"
FINISHED = RunFinished(status="completed", epochs_done=2, best_epoch=2, best_val_accuracy=0.9, test_loss=0.3,
                       test_accuracy=0.8933, seconds=4.0)  # fmt: skip
FAILED = RunFailed(reason="nan", message="The loss became NaN at epoch 3, batch 12: lower the learning rate "
                   "(--lr) or use gradient clipping, then start again with mlp-tui run --lr 0.001.")  # fmt: skip


def footer_line(app) -> str:
    return screen_lines(app)[-1]


def words_allowed(app) -> set[str]:
    """Every key and every word of every binding's label the screen has: a word on the footer
    line that is not one of them is a cut one."""
    words = set()
    for _, binding, _, _ in app.screen.active_bindings.values():
        words.add(app.get_key_display(binding))
        words.update(binding.description.split())
    return words


async def footer_settles(pilot, app) -> str:
    """The footer line once it shows the screen's keys as they are now."""
    screen = app.screen

    def settled() -> bool:
        footer = screen.query(FittedFooter)
        shown = {b.action for _, b, _, _ in screen.active_bindings.values() if b.show}
        return bool(footer) and {k.action for k in footer.first().query("FooterKey")} >= shown - {"app.command_palette"}

    await wait_until(pilot, settled)
    await pilot.pause()
    return footer_line(app)


def assert_whole(app, line: str, way_out: str = "q Quit") -> None:
    assert way_out in line, line
    unknown = [word for word in re.split(r"[\s▏|]+", line) if word and word not in words_allowed(app)]
    assert not unknown, f"cut or unknown words {unknown} in footer {line!r}"


async def each_tab(pilot, app, screen, check) -> dict[str, str]:
    lines = {}
    for tab, key in zip(TABS, KEYS, strict=True):
        await pilot.press(key)
        await wait_until(pilot, lambda tab=tab: screen.query_one("#tabs").active == tab)
        lines[tab] = await footer_settles(pilot, app)
        check(lines[tab])
    return lines


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("state", ["live", "finished", "failed"])
def test_training_footer_fits_on_every_tab(state, width, tmp_path):
    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=(width, 24 if width == 80 else 40)) as pilot:
            run = FakeRun(*two_epochs())
            screen = await open_training(pilot, app, run)
            await wait_until(pilot, lambda: screen.run.epoch == 2)
            if state != "live":
                run.send(FINISHED if state == "finished" else FAILED)
                await wait_until(pilot, lambda: screen.result is not None)

            def check(line: str) -> None:
                assert_whole(app, line)
                if state != "live":  # a run that is over: no keys that would do nothing
                    assert "Pause/resume" not in line and "Stop" not in line and "Set lr" not in line, line

            lines = await each_tab(pilot, app, screen, check)
            if state == "live":
                assert "Pause/resume" in lines["charts"]  # the run's own keys come first
            await pilot.press("l")
            assert isinstance(app.screen, LrDialog) is (state == "live")  # hidden keys do nothing, too

    asyncio.run(scenario())


def test_a_failed_run_shows_its_whole_error_and_no_moving_bar(tmp_path):
    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            run = FakeRun(*two_epochs()[:1])  # failed before its first batch: the bar never had a length
            screen = await open_training(pilot, app, run)
            run.send(FAILED)
            await wait_until(pilot, lambda: screen.result is not None)
            await pilot.pause()
            text = " ".join(" ".join(screen_lines(app)).split())
            assert FAILED.message in text
            assert not screen.query_one("#progress-row").display

    asyncio.run(scenario())


@pytest.mark.parametrize("width", [80, 120])
def test_watch_and_member_footers_fit(width, tmp_path):
    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=(width, 24)) as pilot:
            screen = await open_training(pilot, app, FakeRun(*two_epochs()), watching=True)
            await wait_until(pilot, lambda: screen.run.epoch == 2)
            lines = await each_tab(pilot, app, screen, lambda line: assert_whole(app, line))
            assert "New run" not in lines["charts"]  # a watcher starts no runs

            member = MemberScreen(CONFIG, "tiny", tmp_path / "no-such-run")
            await app.push_screen(member)
            await wait_until(pilot, lambda: app.screen is member)
            assert_whole(app, await footer_settles(pilot, app), way_out="esc Back to comparison")

    asyncio.run(scenario())


@pytest.mark.parametrize("width", [80, 120])
def test_setup_data_and_compare_footers_fit(width, tmp_path):
    folder, plan = hand_made_comparison(tmp_path)

    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=(width, 24)) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, SetupScreen))
            line = await footer_settles(pilot, app)
            assert_whole(app, line)
            assert "Start training" in line  # the setup screen's own key first
            await pilot.press("ctrl+k")
            line = await footer_settles(pilot, app)
            assert_whole(app, line)
            assert "Start comparison" in line
            await app.push_screen(DataScreen(CONFIG, None))
            assert_whole(app, await footer_settles(pilot, app), way_out="esc Back")

        app = create_app(runs_root=tmp_path, compare=Board(plan, folder))
        async with app.run_test(size=(width, 24)) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen))
            assert_whole(app, await footer_settles(pilot, app))

    asyncio.run(scenario())


def test_keys_that_do_not_fit_are_left_out_whole_and_the_way_out_stays():
    # 20 cells: quit (7) is kept; then 9 fits, 10 does not, the last 4 still does.
    assert keys_to_show([9, 10, 4, 7], [False, False, False, True], 20) == [True, False, True, True]
    assert keys_to_show([30, 7], [False, True], 20) == [False, True]


def test_long_status_lines_end_at_a_word_with_an_ellipsis(tmp_path):
    run_dir = "runs/20261207-004907-tiny-with-a-long-name"

    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            run = FakeRun(dataclasses.replace(two_epochs()[0], run_dir=run_dir), *two_epochs()[1:])
            screen = await open_training(pilot, app, run)
            await wait_until(pilot, lambda: screen.run.epoch == 2)
            run.send(FINISHED)
            await wait_until(pilot, lambda: screen.result is not None)
            await pilot.pause()
            line = next(line for line in screen_lines(app) if "test accuracy" in line).rstrip()
            # the directory is one word too long for 80 columns: left out whole, not cut
            assert line == " test accuracy 89.33 % (best weights: epoch 2) …", line

    asyncio.run(scenario())


def test_shorten_cuts_between_words():
    line = "48 most confident of 1,067 mistakes on the test set (best weights, epoch 2)"
    assert shorten(line, 60, ascii=False) == "48 most confident of 1,067 mistakes on the test set …"
    assert shorten(line, 60, ascii=True) == "48 most confident of 1,067 mistakes on the test set ..."
    assert shorten(line, 200) == line


@pytest.mark.parametrize("warnings", [12, 150])
def test_the_tab_bar_fits_80_columns_with_many_warnings(warnings, tmp_path):
    """Ten tabs in 80 columns, the Health tab counting warnings: every label whole."""

    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_training(pilot, app, FakeRun(*two_epochs()))
            await wait_until(pilot, lambda: screen.run.epoch == 2)
            for layer in range(warnings):
                screen.take(dataclasses.replace(two_epochs()[-1], layer=layer + 2))
            await pilot.pause()
            count = warnings + 1  # and the run's own
            health = "Health 99+" if count >= 100 else f"Health {count}!"
            bar = next(line for line in screen_lines(app) if "Charts" in line)
            assert bar.split() == ["Charts", "Classes", "Mistakes", "Confusion", "Model", *health.split(), "Weights",
                                   "Draw", "Data", "Predictions"], bar  # fmt: skip

    asyncio.run(scenario())


def test_the_command_palette_offers_each_screens_own_commands(tmp_path):
    """ctrl+p lists what this screen's keys do (each screen declares its own), and a screenshot."""

    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: isinstance(app.screen, SetupScreen))
            titles = {command.title for command in app.get_system_commands(app.screen)}
            assert {"Save a picture of the screen", "Start training", "Look at the data", "Compare mode"} <= titles
            screen = await open_training(pilot, app, FakeRun(*two_epochs()))
            titles = {command.title for command in app.get_system_commands(screen)}
            assert {"Save a picture of the screen", "Pause / resume", "Stop run", "Set the learning rate"} <= titles
            assert "Start training" not in titles

    asyncio.run(scenario())
