"""Misclassified digits, one at a time: the digit in shaded half blocks, what the network
predicted, the true class, and the softmax probabilities as bars."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Static

from ....datasets import class_labels
from ....events import Evaluation, Misclassified
from ....render import SIDE, bar


def digit_text(pixels: bytes) -> Text:
    """Two pixel rows per line: the upper half block takes the top pixel as its colour and the
    bottom pixel as the background, so every pixel keeps its own grey level."""
    text = Text(no_wrap=True)
    for row in range(0, SIDE, 2):
        for col in range(SIDE):
            t, b = pixels[row * SIDE + col], pixels[(row + 1) * SIDE + col]
            text.append("▀", style=f"rgb({t},{t},{t}) on rgb({b},{b},{b})")
        if row < SIDE - 2:
            text.append("\n")
    return text


def probability_text(m: Misclassified, classes: tuple[str, ...], width: int = 20) -> Group:
    lines = []
    labels = class_labels(classes)
    name = max(len(label) for label in labels)
    for c, (label, p) in enumerate(zip(labels, m.probabilities)):
        style = "bold red" if c == m.predicted else "bold green" if c == m.true else "dim"
        mark = "  predicted" if c == m.predicted else "  true" if c == m.true else ""
        lines.append(Text.assemble((f"{label:<{name}} ", "bold"), (bar(p, width), style), f" {p * 100:5.1f}%",
                                   (mark, style)))  # fmt: skip
    return Group(*lines)


class MistakeGallery(Horizontal):
    DEFAULT_CSS = """
    MistakeGallery { height: auto; min-height: 16; }
    MistakeGallery #digit {
        width: 30; height: 16; border: round $primary;
        border-title-color: $error; border-subtitle-color: $success;
    }
    MistakeGallery #info { width: 1fr; height: auto; padding: 0 1; }
    """

    index: reactive[int] = reactive(0)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.evaluation: Evaluation | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="digit")
        yield Static(id="info")

    def on_mount(self) -> None:
        self.refresh_view()

    @property
    def mistakes(self) -> tuple[Misclassified, ...]:
        return self.evaluation.misclassified if self.evaluation else ()

    def show(self, evaluation: Evaluation | None) -> None:
        self.evaluation = evaluation
        self.index = 0
        self.refresh_view()

    def step(self, delta: int) -> None:
        if self.mistakes:
            self.index = (self.index + delta) % len(self.mistakes)

    def watch_index(self) -> None:
        self.refresh_view()

    @property
    def current(self) -> Misclassified | None:
        return self.mistakes[self.index] if self.mistakes else None

    def refresh_view(self) -> None:
        if not self.is_mounted:
            return
        digit, info = self.query_one("#digit", Static), self.query_one("#info", Static)
        m = self.current
        digit.display = m is not None
        if m is None:
            info.update("No misclassified digits yet: they appear after the first epoch.")
            return
        ev = self.evaluation
        digit.update(digit_text(m.pixels))
        # Above the image what the network said, below what it was: each fits the frame.
        digit.border_title, digit.border_subtitle = ev.classes[m.predicted], f"true: {ev.classes[m.true]}"
        header = Text.assemble(
            (f"Mistake {self.index + 1} of {len(self.mistakes)}", "bold"),
            f"  ({ev.split} set, epoch {ev.epoch}, most confident first)\n",
            ("predicted ", ""), (ev.classes[m.predicted], "bold red"), ("  true ", ""),
            (ev.classes[m.true], "bold green"), f"  confidence {m.confidence * 100:.1f}%\n",
            ("[ and ] page through them\n", "dim"),
        )  # fmt: skip
        info.update(Group(header, probability_text(m, ev.classes)))
