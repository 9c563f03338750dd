"""The setup screen: pick a preset, adjust the main settings, see the model, start."""

from __future__ import annotations

import dataclasses

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Footer, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from ...config import ACTIVATIONS, LOSSES, OPTIMIZERS, ConfigError, Preset, RunConfig, build_config, suggested_lr
from .base import SizedScreen

# Form fields: (config key, label, kind); kind "select" offers the fixed choices.
FIELDS = (
    ("loss", "Loss", LOSSES),
    ("optimizer", "Optimizer", OPTIMIZERS),
    ("lr", "Learning rate", float),
    ("batch_size", "Batch size", int),
    ("epochs", "Epochs", int),
    ("hidden", "Hidden layers", str),
    ("activation", "Activation", ACTIVATIONS),
    ("dropout", "Dropout", float),
    ("augment", "Distortion", float),
    ("elastic", "Elastic (px)", float),
)


def field_text(config: RunConfig, key: str) -> str:
    value = getattr(config, key)
    if key == "hidden":
        return ",".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


class SetupScreen(SizedScreen):
    BINDINGS = [
        Binding("ctrl+r,f5", "start", "Start training", priority=True),
        Binding("ctrl+p", "app.command_palette", "Commands", show=False),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, presets: list[Preset], selected: str, config: RunConfig | None = None) -> None:
        super().__init__()
        self.presets = {p.name: p for p in presets}
        self.preset = selected if selected in self.presets else next(iter(self.presets))
        self.config = config or self.presets[self.preset].config
        self.errors: dict[str, str] = {}
        self.lr_edited = False  # once the user types a learning rate, we stop suggesting one

    def compose(self) -> ComposeResult:
        with Horizontal(id="setup"):
            with Vertical(id="preset-column"):
                yield Label("[b]Preset[/]  ↑/↓ to choose", id="preset-title")
                yield OptionList(*self.preset_options(), id="presets")
            with VerticalScroll(id="form"):
                for key, label, kind in FIELDS:
                    with Horizontal(classes="field"):
                        yield Label(label, classes="field-label")
                        if isinstance(kind, tuple):
                            yield Select(
                                [(c, c) for c in kind],
                                value=getattr(self.config, key),
                                allow_blank=False,
                                compact=True,
                                id=f"f-{key}",
                            )
                        else:
                            yield Input(field_text(self.config, key), compact=True, id=f"f-{key}")
                yield Static(id="form-errors")
                yield Button("Start training  (ctrl+r)", variant="success", id="start")
                yield Static(id="device")
                yield Static(id="summary")
        yield Footer()

    def preset_options(self) -> list[Option]:
        options = []
        for p in self.presets.values():
            prompt = Text.assemble(
                (p.name, "bold"), f"  {p.config.architecture}\n",
                (p.description + "\n", ""), (p.expected, "dim italic"),
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
        name = event.option.id
        if name != self.preset:
            self.preset = name
            self.config = self.presets[name].config
            self.errors.clear()
            self.lr_edited = False
            self.fill_form()
        self.refresh_summary()

    def fill_form(self) -> None:
        with self.prevent(Input.Changed, Select.Changed):
            for key, _, kind in FIELDS:
                widget = self.query_one(f"#f-{key}")
                if isinstance(widget, Select):
                    widget.value = getattr(self.config, key)
                else:
                    widget.value = field_text(self.config, key)
                widget.remove_class("-bad")

    @on(Input.Changed)
    @on(Select.Changed)
    def field_changed(self, event) -> None:
        key = (event.control.id or "").removeprefix("f-")
        if key not in {k for k, _, _ in FIELDS}:
            return
        before = getattr(self.config, key)
        self.apply_field(key, event.control)
        if key == "lr" and event.control.has_focus:
            self.lr_edited = True
        changed = getattr(self.config, key) != before
        if key in ("optimizer", "loss") and changed and not self.lr_edited and not self.errors:
            self.suggest_lr()
        self.refresh_summary()

    def suggest_lr(self) -> None:
        """Switching to SGD keeps Adam's tiny learning rate otherwise, and the run barely moves."""
        lr = suggested_lr(self.config.optimizer, self.config.loss)
        if lr == self.config.lr:
            return
        self.config = dataclasses.replace(self.config, lr=lr)
        with self.prevent(Input.Changed):
            self.query_one("#f-lr", Input).value = f"{lr:g}"
        self.notify(
            f"Learning rate set to {lr:g}, a good start for {self.config.optimizer} with {self.config.loss} "
            "(type your own to keep it).",
            timeout=6,
        )

    def apply_field(self, key: str, widget) -> None:
        kind = dict((k, t) for k, _, t in FIELDS)[key]
        raw = widget.value
        try:
            if kind in (int, float) and isinstance(raw, str):
                try:
                    raw = kind(raw.strip())
                except ValueError:
                    noun = "an integer" if kind is int else "a number"
                    raise ConfigError(f"'{widget.value}' is not {noun}") from None
            self.config = build_config({key: raw}, source="form", base=self.config)
            self.errors.pop(key, None)
            widget.remove_class("-bad")
        except ConfigError as exc:
            self.errors[key] = str(exc).removeprefix(f"form: key '{key}': ")
            widget.add_class("-bad")

    def refresh_summary(self) -> None:
        errors = self.query_one("#form-errors", Static)
        labels = {k: label for k, label, _ in FIELDS}
        errors.update("\n".join(f"[red]✖ {labels[k]}: {msg}[/]" for k, msg in self.errors.items()))
        self.query_one("#start", Button).disabled = bool(self.errors)
        if self.errors:
            return
        summary, parameters = self.app.model_summary(self.config)
        self.query_one("#summary", Static).update(summary)
        self.query_one("#device", Static).update(
            f"[b]{self.config.architecture}[/] · {parameters:,} parameters · device [b]{self.app.device_label}[/]"
        )

    @on(Button.Pressed, "#start")
    def start_pressed(self) -> None:
        self.action_start()

    def action_start(self) -> None:
        if self.errors:
            self.notify("Fix the fields marked in red first.", severity="warning")
            return
        self.app.start_run(self.config, self.preset)
