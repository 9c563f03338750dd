"""The setup screen's settings: one field per `run` option, made from RunConfig's declarations.

The common settings (those with a label) come first; every other sits in a folded Advanced
section, so an option declared later shows up here with no change to this file."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Checkbox, Collapsible, Input, Label, Select, Static

from mlp_tui.core.config import (  # fmt: skip
    CLI_OPTIONS,
    FIELDS,
    FORM_SOURCE,
    OPTIONS,
    ConfigError,
    RunConfig,
    build_config,
    parse_text,
    value_text,
)
from mlp_tui.core.overrides import with_suggested_lr

COMMON = tuple(key for key in CLI_OPTIONS if OPTIONS[key].label)
ADVANCED = tuple(key for key in CLI_OPTIONS if not OPTIONS[key].label)


def field_tooltip(key: str) -> str:
    opt = OPTIONS[key]
    bounds = opt.range_text() if key != "hidden" else ""
    return opt.help + (f" ({bounds})" if bounds else "")


class OnOff(Checkbox):
    """A yes/no setting that says `on` or `off` in words: the box alone shows it by colour only,
    which NO_COLOR takes away."""

    def __init__(self, value: bool, **kwargs: Any) -> None:
        super().__init__("on" if value else "off", value, compact=True, **kwargs)

    def watch_value(self) -> None:
        super().watch_value()
        self.label = "on" if self.value else "off"


def field_widget(config: RunConfig, key: str) -> Widget:
    """A checkbox for a yes/no setting, a list for one with choices, text for the rest."""
    value, tip, wid = getattr(config, key), field_tooltip(key), f"f-{key}"
    if isinstance(FIELDS[key].default, bool):
        return OnOff(value, id=wid, tooltip=tip)
    if OPTIONS[key].choices:
        options = [(c, c) for c in OPTIONS[key].choices]
        return Select(options, value=value, allow_blank=False, compact=True, id=wid, tooltip=tip)
    return Input(value_text(key, value), compact=True, id=wid, tooltip=tip)


class SettingsForm(Vertical):
    """Every run setting as a field; holds the config as the fields say and what is wrong."""

    DEFAULT_CSS = """
    SettingsForm { height: auto; }
    SettingsForm .field { height: auto; margin-bottom: 1; }
    /* A long name wraps onto a second line rather than running into its value. */
    SettingsForm .field-label { width: 18; padding-right: 1; }
    SettingsForm .field Input, SettingsForm .field Select { width: 1fr; }
    SettingsForm .-bad { background: $error 30%; }
    /* Advanced fields line up with the common ones above. */
    SettingsForm #advanced { padding: 0; margin-bottom: 1; }
    SettingsForm #advanced Contents { padding: 1 0 0 0; }
    SettingsForm #form-errors { height: auto; }
    """

    class Changed(Message):
        """A field was edited; the form's config and errors say how things stand now."""

        def __init__(self, form: SettingsForm, key: str) -> None:
            super().__init__()
            self.form, self.key = form, key

    def __init__(self, config: RunConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.errors: dict[str, str] = {}  # key: what is wrong with its field
        self.lr_edited = False  # once the user types a learning rate, we stop suggesting one

    def compose(self) -> ComposeResult:
        yield from self.rows(COMMON)
        with Collapsible(title="Advanced", id="advanced"):
            yield from self.rows(ADVANCED)
        yield Static(id="form-errors")

    def rows(self, keys: tuple[str, ...]) -> ComposeResult:
        for key in keys:
            with Horizontal(classes="field"):
                yield Label(OPTIONS[key].form_label(key), classes="field-label")
                yield field_widget(self.config, key)

    def fill(self, config: RunConfig, keep_lr: bool = False) -> None:
        """Show `config` (a preset was chosen) in every field, the folded ones included;
        `keep_lr`: a rate the user typed stays theirs (the same preset on another dataset)."""
        self.config, self.lr_edited = config, keep_lr and self.lr_edited
        self.errors.clear()
        with self.prevent(Input.Changed, Select.Changed, Checkbox.Changed):
            for key in COMMON + ADVANCED:
                widget = self.field(key)
                value = getattr(config, key)
                widget.value = value_text(key, value) if isinstance(widget, Input) else value
                widget.remove_class("-bad")
        self.show_errors()

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def field_changed(self, event: Input.Changed | Select.Changed | Checkbox.Changed) -> None:
        key = (event.control.id or "").removeprefix("f-")
        if key not in FIELDS:
            return
        event.stop()
        before = self.config
        valid = self.apply_field(key, event.control)
        for other in [k for k in self.errors if k != key]:  # may have been wrong only with this one
            self.apply_field(other, self.field(other))
        if key == "lr" and event.control.has_focus:
            self.lr_edited = True
        if valid and key in ("optimizer", "loss", "lr") and not self.errors:
            self.config = with_suggested_lr(before, self.config, lr_given=self.lr_edited or key == "lr")
            if self.config.lr_suggested and self.config.lr != before.lr:
                self.show_suggested_lr()
        self.show_errors()
        self.post_message(self.Changed(self, key))

    def field(self, key: str) -> Input | Select[Any] | Checkbox:
        """The widget of `key`'s field, as field_widget made it."""
        widget = self.query_one(f"#f-{key}")
        assert isinstance(widget, (Input, Select, Checkbox)), widget
        return widget

    def apply_field(self, key: str, widget: Input | Select[Any] | Checkbox) -> bool:
        """The widget's value into the config; False (and the field marked) if it is not valid."""
        try:
            raw = parse_text(key, widget.value) if isinstance(widget, Input) else widget.value
            self.config = build_config({key: raw}, source=FORM_SOURCE, base=self.config)
            self.errors.pop(key, None)
            widget.remove_class("-bad")
            return True
        except ConfigError as exc:
            self.errors[key] = str(exc).removeprefix(f"{FORM_SOURCE}: key '{key}': ")
            widget.add_class("-bad")
            return False

    def show_suggested_lr(self) -> None:
        """Switching to SGD keeps Adam's tiny learning rate otherwise, and the run barely moves."""
        with self.prevent(Input.Changed):
            self.query_one("#f-lr", Input).value = f"{self.config.lr:g}"
        self.notify(
            f"Learning rate set to {self.config.lr:g}, a good start for {self.config.optimizer} with "
            f"{self.config.loss} (type your own to keep it).",
            timeout=6,
        )

    def show_errors(self) -> None:
        # Escaped: a message quotes what was typed, and "[" there is not markup.
        lines = (f"[red]✖ {OPTIONS[k].form_label(k)}: {escape(msg)}[/]" for k, msg in self.errors.items())
        self.query_one("#form-errors", Static).update("\n".join(lines))
