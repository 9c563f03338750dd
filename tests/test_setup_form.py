"""The setup form holds every run setting: anything `mlp-tui run` can do, the app can."""

from __future__ import annotations

import asyncio
import dataclasses

from textual.widgets import Button, Checkbox, Collapsible, Input, Select, Static
from textual.widgets.collapsible import CollapsibleTitle

from conftest import wait_until
from mlp_tui.core.config import CLI_OPTIONS, FIELDS, OPTIONS, RunConfig
from mlp_tui.core.presets import resolve_preset
from mlp_tui.views.tui.app import create_app
from mlp_tui.views.tui.screens.setup import SetupScreen
from mlp_tui.views.tui.widgets.settings_form import ADVANCED, COMMON
from test_tui import choose_preset, plain, set_field


def keep_starts(app) -> list[RunConfig]:
    """The configs the setup screen starts runs with, kept instead of training."""
    started: list[RunConfig] = []
    app.start_run = lambda config, preset: started.append(config)
    return started


async def open_advanced(pilot, app) -> None:
    """Open the Advanced section from the keyboard, as a user would."""
    app.screen.query_one(CollapsibleTitle).focus()
    await pilot.press("enter")
    await wait_until(pilot, lambda: not app.screen.query_one("#advanced", Collapsible).collapsed)


def test_every_run_option_has_a_field_the_uncommon_ones_folded_away(tmp_path):
    async def scenario() -> None:
        app = create_app("dropout", runs_root=tmp_path)
        async with app.run_test(size=(120, 40)):
            screen = app.screen
            assert isinstance(screen, SetupScreen)
            advanced = screen.query_one("#advanced", Collapsible)
            assert advanced.collapsed  # folded on opening: the common settings come first
            assert set(COMMON) | set(ADVANCED) == set(CLI_OPTIONS)
            for key in CLI_OPTIONS:
                field = screen.query_one(f"#f-{key}")
                assert (field in advanced.query("*")) == (not OPTIONS[key].label), key
                if isinstance(FIELDS[key].default, bool):
                    assert isinstance(field, Checkbox), key
                elif OPTIONS[key].choices:
                    assert isinstance(field, Select) and field.value == getattr(screen.config, key), key
                else:
                    assert isinstance(field, Input) and OPTIONS[key].help in str(field.tooltip), key
            labels = [str(label.content) for label in advanced.query(".field-label").results(Static)]
            assert "Weight decay" in labels and "Batch norm" in labels  # named from the key

    asyncio.run(scenario())


def test_dropout_with_sgd_and_no_schedule_starts_that_run(tmp_path):
    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        started = keep_starts(app)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            await choose_preset(pilot, app, "dropout")
            schedule = screen.query_one("#f-schedule", Select)
            assert schedule.value == "onecycle"  # the preset filled the folded fields too
            await open_advanced(pilot, app)
            schedule.value = "none"
            screen.query_one("#f-optimizer", Select).value = "sgd"
            await pilot.pause()
            assert screen.query_one("#f-lr", Input).value == "0.1"  # suggested for SGD
            await pilot.press("ctrl+r")
            await wait_until(pilot, lambda: started)
        (config,) = started
        dropout = resolve_preset("dropout").config
        assert (config.schedule, config.optimizer, config.lr) == ("none", "sgd", 0.1)
        assert (config.dropout, config.augment, config.hidden) == (dropout.dropout, dropout.augment, dropout.hidden)

    asyncio.run(scenario())


def test_a_bad_advanced_value_blocks_start_and_names_the_field(tmp_path):
    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        started = keep_starts(app)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            await open_advanced(pilot, app)
            await set_field(pilot, app, "weight_decay", "-1")
            await set_field(pilot, app, "device", "[x")  # brackets in a message are not markup
            errors = plain(screen.query_one("#form-errors", Static))
            assert "Weight decay: -1.0 is out of range" in errors and ">= 0" in errors
            assert "Device: unknown device '[x'" in errors
            assert screen.query_one("#f-weight_decay", Input).has_class("-bad")
            assert screen.query_one("#start", Button).disabled
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert not started and isinstance(app.screen, SetupScreen)

            await set_field(pilot, app, "weight_decay", "0.0005")
            await set_field(pilot, app, "device", "cpu")
            assert not plain(screen.query_one("#form-errors", Static)).strip()
            assert not screen.query_one("#start", Button).disabled
            await pilot.press("ctrl+r")
            await wait_until(pilot, lambda: started)
        assert started[0].weight_decay == 0.0005 and started[0].device == "cpu"

    asyncio.run(scenario())


def test_yes_no_settings_toggle_and_say_so_in_words(tmp_path):
    async def scenario() -> None:
        app = create_app("tiny", dataclasses.replace(resolve_preset("tiny").config, compile=True), runs_root=tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            assert isinstance(screen, SetupScreen)
            await open_advanced(pilot, app)
            compiled, norm = screen.query_one("#f-compile", Checkbox), screen.query_one("#f-batch_norm", Checkbox)
            assert compiled.value and str(compiled.label) == "on"  # words, which NO_COLOR keeps
            norm.focus()
            await pilot.press("space")
            assert screen.config.batch_norm and str(norm.label) == "on"
            await pilot.press("space")
            assert not screen.config.batch_norm and str(norm.label) == "off"
            await choose_preset(pilot, app, "dropout")  # a preset fills the yes/no fields too
            assert not compiled.value and not screen.config.compile and str(compiled.label) == "off"

    asyncio.run(scenario())


def test_tab_walks_every_field_in_order_and_nothing_overlaps_at_80x24(tmp_path):
    async def scenario() -> None:
        app = create_app("dropout", runs_root=tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            fields = [f"f-{key}" for key in COMMON + ADVANCED]

            def tab_order() -> list[str | None]:  # the order Tab visits, fields only
                return [w.id for w in screen.focus_chain if w.id in fields or isinstance(w, CollapsibleTitle)]

            assert tab_order() == [*fields[: len(COMMON)], None]  # the folded fields are skipped
            screen.query_one(f"#f-{COMMON[-1]}").focus()
            await pilot.press("tab")
            assert isinstance(app.focused, CollapsibleTitle)
            await pilot.press("enter", "tab")
            assert app.focused.id == fields[len(COMMON)]
            assert tab_order() == [*fields[: len(COMMON)], None, *fields[len(COMMON) :]]
            screen.query_one(f"#f-{ADVANCED[-2]}").focus()
            await pilot.press("tab")
            await pilot.pause()
            assert app.focused.id == fields[-1]
            form = screen.query_one("#form")
            assert form.region.contains_region(app.focused.region)  # scrolled into view
            await pilot.press("tab")
            assert app.focused.id == "start"
            rows = [row.region for row in screen.query(".field")]
            assert all(not a.overlaps(b) for i, a in enumerate(rows) for b in rows[i + 1 :])

    asyncio.run(scenario())


def test_a_field_wrong_only_with_another_clears_when_that_one_is_fixed(tmp_path):
    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = app.screen
            assert isinstance(screen, SetupScreen)
            await open_advanced(pilot, app)
            await set_field(pilot, app, "lr_changes", "8:0.01")
            await set_field(pilot, app, "epochs", "5")  # the change at epoch 8 would never happen
            assert "epoch 8 comes after the last epoch (5)" in plain(screen.query_one("#form-errors", Static))
            assert screen.query_one("#start", Button).disabled
            await set_field(pilot, app, "lr_changes", "3:0.01")
            assert not plain(screen.query_one("#form-errors", Static)).strip()
            assert not screen.query_one("#f-epochs", Input).has_class("-bad")
            assert (screen.config.epochs, screen.config.lr_changes) == (5, ((3, 0, 0.01),))

    asyncio.run(scenario())
