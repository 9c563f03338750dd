"""The setup screen: pick a preset, adjust any setting, see the model, start."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, OptionList, SelectionList, Static
from textual.widgets.option_list import Option

from mlp_tui.core.architecture import config_rows, format_rows, parameter_count
from mlp_tui.core.config import ConfigError, RunConfig, value_text
from mlp_tui.core.datasets import dataset_info
from mlp_tui.core.lessons import Lesson
from mlp_tui.core.presets import Preset
from mlp_tui.runs.compare.grid import build_grid, check_size
from mlp_tui.runs.compare.plan import Plan
from mlp_tui.views.tui.lesson_picker import pick_lesson
from mlp_tui.views.tui.screens.base import SCREENSHOT, SizedScreen
from mlp_tui.views.tui.screens.data import DataScreen
from mlp_tui.views.tui.widgets.compare_form import CompareForm, hidden_width
from mlp_tui.views.tui.widgets.fitted_footer import FittedFooter
from mlp_tui.views.tui.widgets.lr_find_dialog import LrFindDialog
from mlp_tui.views.tui.widgets.settings_form import SettingsForm


def device_text(label: str, threads: str) -> str:
    """The device as the form's settings would use it: `CPU (threads auto, up to 2)`."""
    if not label.startswith("CPU"):
        return label
    if threads == "auto":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return f"CPU (threads auto, up to {cores})"
    return f"CPU ({threads} thread{'s' if threads != '1' else ''})"


class SetupScreen(SizedScreen):
    BINDINGS = [
        Binding("ctrl+r,f5", "start", "Start training", priority=True),
        Binding("ctrl+r,f5", "start_comparison", "Start comparison", priority=True),
        Binding("ctrl+k", "compare_mode(True)", "Compare mode", priority=True),
        Binding("ctrl+k", "compare_mode(False)", "Single run", priority=True),
        Binding("ctrl+t,f2", "look_at_data", "Data", priority=True),
        Binding("ctrl+l,f3", "find_lr", "Find lr", priority=True),
        Binding("ctrl+e,f4", "pick_lesson", "Lessons", priority=True),
        Binding("ctrl+p", "app.command_palette", "Commands", show=False),
        SCREENSHOT,
        Binding("q", "app.quit", "Quit"),
    ]

    class StartRun(Message):
        """Train `config` (from the preset `preset`, perhaps adjusted)."""

        def __init__(self, config: RunConfig, preset: str) -> None:
            super().__init__()
            self.config, self.preset = config, preset

    class StartComparison(Message):
        """Train the comparison `plan`, in a new comparison directory (a lesson's, with it)."""

        def __init__(self, plan: Plan, lesson: Lesson | None = None) -> None:
            super().__init__()
            self.plan, self.lesson = plan, lesson

    def __init__(self, presets: list[Preset], selected: str, config: RunConfig | None = None, *,
                 data_dir: Path | None = None, device_label: str = "detecting…") -> None:  # fmt: skip
        super().__init__()
        self.data_dir = data_dir  # where the Data screen reads the training images
        self.device_label = device_label  # the app says once it knows (importing torch takes a while)
        self.presets = {p.name: p for p in presets}
        self.preset = selected if selected in self.presets else next(iter(self.presets))
        # Made here, not in compose: the app reads the config before the screen is shown.
        self.form = SettingsForm(config or self.presets[self.preset].config, id="settings")
        self.comparing = False  # compare mode: the form's ticked values make a grid of variants
        self.plan: Plan | None = None  # what compare mode would start
        self.plan_error = ""
        self.listed_dataset = ""  # the dataset whose figures the preset list shows
        self.form_dataset = self.form.config.dataset  # the preset's settings for it are in the form

    def compose(self) -> ComposeResult:
        with Horizontal(id="setup"):
            with Vertical(id="preset-column"):
                yield Label("[b]Preset[/]  ↑/↓ to choose", id="preset-title")
                yield OptionList(*self.preset_options(), id="presets")
            with VerticalScroll(id="form"):
                yield CompareForm(hidden_width(self.config), id="compare-form")
                yield self.form
                yield Button("Start training  (ctrl+r)", variant="success", id="start")
                yield Static(id="device")
                yield Static(id="summary")
        yield FittedFooter()

    @property
    def config(self) -> RunConfig:
        """The run as the form's fields say (fields marked in red keep their last good value)."""
        return self.form.config

    @property
    def errors(self) -> dict[str, str]:
        return self.form.errors

    def preset_options(self) -> list[Option | None]:
        """Each preset with what to expect of it on the form's dataset."""
        options: list[Option | None] = []
        self.listed_dataset = self.config.dataset
        for p in self.presets.values():
            prompt = Text.assemble(
                (p.name, "bold"), f"  {p.config.architecture}\n",
                (p.description + "\n", ""), (p.expectation(self.listed_dataset), "dim italic"),
            )  # fmt: skip
            if options:
                options.append(None)  # a separator line between presets
            options.append(Option(prompt, id=p.name))
        return options

    def on_mount(self) -> None:
        presets = self.query_one("#presets", OptionList)
        presets.highlighted = presets.get_option_index(self.preset)
        presets.focus()
        self.call_after_refresh(presets.scroll_to_highlight, top=True)  # the chosen one in view
        self.refresh_summary()

    @on(OptionList.OptionHighlighted, "#presets")
    def preset_chosen(self, event: OptionList.OptionHighlighted) -> None:
        name = event.option.id  # every preset's option has its name as id
        if name is not None and name != self.preset:
            self.preset = name
            self.form.fill(self.presets[name].config)
            self.form_dataset = self.config.dataset
            self.query_one(CompareForm).set_width(hidden_width(self.config))
        self.refresh_summary()

    @on(SettingsForm.Changed)
    def settings_changed(self) -> None:
        self.follow_dataset()
        self.query_one(CompareForm).set_width(hidden_width(self.config))
        self.refresh_summary()

    def follow_dataset(self) -> None:
        """Another dataset: the preset's settings for it, where the form still holds its old ones."""
        preset, old, self.form_dataset = self.presets[self.preset], self.form_dataset, self.config.dataset
        changes = preset.moved(self.config, old)
        if changes:
            self.form.fill(dataclasses.replace(self.config, **changes), keep_lr=True)
            said = ", ".join(f"{key} {value_text(key, value)}" for key, value in changes.items())
            self.notify(f"{preset.name} on {dataset_info(self.config.dataset).title}: {said}", timeout=8)

    def show_device(self, label: str) -> None:
        self.device_label = label
        self.refresh_summary()

    def refresh_summary(self) -> None:
        if self.config.dataset != self.listed_dataset:  # the presets' figures are per dataset
            presets = self.query_one("#presets", OptionList)
            highlighted = presets.highlighted
            presets.clear_options().add_options(self.preset_options())
            presets.highlighted = highlighted
        if self.comparing:
            self.refresh_plan()
        self.query_one("#start", Button).disabled = bool(self.errors) or (self.comparing and self.plan is None)
        # A field marked in red keeps its last good value in the config: the summary stays (a
        # half-typed value must not blank it) and says plainly that it is not of the form as shown.
        fix = f"the field{'s' if len(self.errors) > 1 else ''} marked in red"
        stale = f"[yellow]⚠ Summary of the last valid settings: fix {fix} to update it.[/]\n" if self.errors else ""
        summary, parameters = format_rows(config_rows(self.config)), parameter_count(self.config)  # no torch here
        self.query_one("#summary", Static).update(summary)
        self.query_one("#device", Static).update(
            f"{stale}[b]{self.config.architecture}[/] · {parameters:,} parameters · {self.config.lr_text} · "
            f"device [b]{device_text(self.device_label, self.config.threads)}[/]"
        )

    def system_commands(self) -> Iterator[SystemCommand]:
        yield from super().system_commands()
        yield SystemCommand("Start training", "Train with the current settings", self.action_start)
        yield SystemCommand("Look at the data", "Training images as these settings distort them (ctrl+t)",
                            self.action_look_at_data)  # fmt: skip
        yield SystemCommand("Find a learning rate", "Sweep the rate on a copy of the model and suggest one (ctrl+l)",
                            self.action_find_lr)  # fmt: skip
        yield SystemCommand("Compare mode", "Tick settings to train side by side (ctrl+k)",
                            lambda: self.action_compare_mode(not self.comparing))  # fmt: skip

    @on(Button.Pressed, "#start")
    def start_pressed(self) -> None:
        if self.comparing:
            self.action_start_comparison()
        else:
            self.action_start()

    # -- compare mode ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters) -> bool | None:
        if action == "compare_mode":
            return parameters[0] != self.comparing  # one ctrl+k shown: the way to the other mode
        if action in ("start", "find_lr"):
            return not self.comparing
        if action == "start_comparison":
            return self.comparing
        return True

    def action_compare_mode(self, on: bool) -> None:
        self.comparing = on
        self.set_class(on, "-compare")
        self.query_one("#start", Button).label = "Start comparison  (ctrl+r)" if on else "Start training  (ctrl+r)"
        self.refresh_bindings()
        self.refresh_summary()
        if on:  # once it is displayed
            self.call_after_refresh(self.query_one("#form", VerticalScroll).scroll_home, animate=False)
            self.call_after_refresh(self.query_one("#vary-loss", SelectionList).focus)

    @on(SelectionList.SelectedChanged)
    @on(Input.Changed, "#compare-seeds")
    def compare_changed(self) -> None:
        self.refresh_summary()

    def comparison_plan(self) -> Plan:
        """The grid the ticks make on top of the form's config. Raises ConfigError."""
        form = self.query_one(CompareForm)
        axes, seeds = form.axes(), form.seeds()
        common = {"lr": self.config.lr} if self.form.lr_edited else {}  # a typed rate holds for every variant
        variants = build_grid([(self.preset, self.config)], axes, common)
        if len(variants) < 2 and seeds < 2:
            raise ConfigError("nothing to compare: tick two values of a setting, or train 2 or more seeds")
        try:
            check_size(variants, seeds, yes=False)
        except ConfigError as exc:
            text = str(exc).removeprefix("--vary: ").split("; add --yes")[0]
            raise ConfigError(f"{text}; tick fewer values (or use mlp-tui compare --yes)") from None
        vary = [a.text for a in axes if len(a.values) > 1]
        return Plan(variants, seeds, vary, f"preset {self.preset}")

    def refresh_plan(self) -> None:
        form = self.query_one(CompareForm)
        if self.errors:
            self.plan, self.plan_error = None, "fix the fields marked in red first"
        else:
            try:
                self.plan, self.plan_error = self.comparison_plan(), ""
            except ConfigError as exc:
                self.plan, self.plan_error = None, str(exc)
        if self.plan is None:
            form.show_plan(f"[red]✖ {escape(self.plan_error)}[/]")
            return
        names = [v.name for v in self.plan.variants]
        shown = "; ".join(names[:6]) + (f"; … ({len(names) - 6} more)" if len(names) > 6 else "")
        form.show_plan(
            f"[b]{len(names)} variant{'s' if len(names) > 1 else ''} × {self.plan.seeds} seeds = "
            f"{self.plan.size} runs[/]: {escape(shown)}"
        )

    def action_start_comparison(self) -> None:
        self.refresh_summary()
        if self.plan is None:
            self.notify(escape(self.plan_error or "Fix the fields marked in red first."), severity="warning")
            return
        self.post_message(self.StartComparison(self.plan))

    def action_look_at_data(self) -> None:
        """The training images as these settings distort them (Distortion, Elastic), before a run."""
        if self.errors:
            self.notify("Fix the fields marked in red first.", severity="warning")
            return
        self.app.push_screen(DataScreen(self.config, self.data_dir))

    def action_find_lr(self) -> None:
        """Sweep the learning rate with the form's settings; its suggestion may go in the lr field."""
        if self.errors:
            self.notify("Fix the fields marked in red first.", severity="warning")
            return
        self.app.push_screen(LrFindDialog(self.config, self.data_dir), self.lr_found)

    def action_pick_lesson(self) -> None:
        """A lesson: its comparison trains, the lesson beside it (as `mlp-tui lesson NAME`)."""
        pick_lesson(self, lambda plan, lesson: self.post_message(self.StartComparison(plan, lesson)))

    def lr_found(self, lr: float | None) -> None:
        field = self.form.field("lr")
        if lr is None or not isinstance(field, Input):
            return
        self.form.lr_edited = True  # as if typed: a new optimizer keeps it
        field.value = f"{lr:g}"
        self.notify(f"Learning rate set to {lr:g}, the finder's suggestion.", timeout=6)

    def action_start(self) -> None:
        if self.errors:
            self.notify("Fix the fields marked in red first.", severity="warning")
            return
        self.post_message(self.StartRun(self.config, self.preset))
