"""A small dialog to type a new learning rate for a running run; bad input is said in place."""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


def asked_words(asked: tuple[float, bool]) -> str:
    """A request not yet taken, as the status line says it: `0.002` (typed), `÷2` or `×4` (the
    keys: a factor of the rate the run has when it takes it)."""
    value, relative = asked
    if not relative:
        return f"{value:.3g}"
    return f"×{value:g}" if value >= 1 else f"÷{1 / value:g}"


def parse_lr(text: str) -> tuple[float | None, str]:
    """The learning rate typed, or None and what is wrong with it."""
    text = text.strip()
    if not text:
        return None, "Type a learning rate, e.g. 0.001 or 1e-3."
    try:
        value = float(text)
    except ValueError:
        return None, f"“{text}” is not a number: type one like 0.001 or 1e-3."
    if not math.isfinite(value):
        return None, "The learning rate must be a finite number."
    if value <= 0:
        return None, "The learning rate must be above 0."
    return value, ""


class LrDialog(ModalScreen[float | None]):
    DEFAULT_CSS = """
    LrDialog { align: center middle; }
    LrDialog > Vertical {
        width: 60; max-width: 95%; height: auto; border: thick $accent; padding: 0 1; background: $surface;
    }
    LrDialog Input { margin: 1 0 0 0; }
    LrDialog #lr-error { color: $error; height: auto; }
    LrDialog .hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: float) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"New learning rate (now {self.current:.3g}); it takes effect at the next batch.")
            yield Input(value=f"{self.current:g}", id="lr-input", select_on_focus=True)
            yield Static(id="lr-error")
            yield Static("enter apply · escape cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#lr-error", Static).update("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value, problem = parse_lr(event.value)
        if value is None:
            self.query_one("#lr-error", Static).update(Text(problem))
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)
