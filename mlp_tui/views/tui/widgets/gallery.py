"""The Mistakes tab: the misclassified digits of the latest evaluation (most confident first) on
the shared digit grid, several at once, each with what the network predicted (red, ✗) and the
true class (green); `b` shows every digit's probabilities as bars beside it."""

from __future__ import annotations

from mlp_tui.core.datasets import class_label
from mlp_tui.core.events import Evaluation, Misclassified
from mlp_tui.views.console.digit_art import bar_lines, marks
from mlp_tui.views.tui.widgets.digit_grid import DigitGrid, GridSource
from mlp_tui.views.tui.widgets.splits import mistake_count, on_the_set


class MistakeSource(GridSource):
    caption_lines = 2
    has_bars = True

    def __init__(self, evaluation: Evaluation) -> None:
        self.evaluation = evaluation
        self.mistakes = evaluation.misclassified
        self.count = len(self.mistakes)
        self.classes = tuple(evaluation.classes)

    def images(self, start: int, stop: int):
        return [m.pixels for m in self.mistakes[start:stop]]

    def captions(self, start: int, stop: int, ascii: bool) -> list:
        wrong = marks(ascii)[1]
        return [[[(f"{wrong} {class_label(self.classes, m.predicted)} {m.confidence * 100:.1f}%", "bold red")],
                 [(f"true {class_label(self.classes, m.true)}", "green")]]
                for m in self.mistakes[start:stop]]  # fmt: skip

    def bars(self, start: int, stop: int, colour: bool, ascii: bool) -> list:
        return [bar_lines(m.probabilities, self.classes, m.predicted, m.true, colour=colour, ascii=ascii)
                for m in self.mistakes[start:stop]]  # fmt: skip

    def header(self) -> str:
        """How many of how many: the evaluation keeps only the most confident mistakes."""
        total, where = mistake_count(self.evaluation), on_the_set(self.evaluation)
        if self.count < total:
            return f"{self.count} most confident of {total:,} mistakes {where}"
        return f"all {total:,} mistakes {where}, most confident first"


class MistakeGallery(DigitGrid):
    def __init__(self, **kwargs) -> None:
        super().__init__("No misclassified digits yet: they appear after the first epoch.", **kwargs)
        self.evaluation: Evaluation | None = None

    @property
    def mistakes(self) -> tuple[Misclassified, ...]:
        return self.evaluation.misclassified if self.evaluation else ()

    @property
    def shown(self) -> tuple[Misclassified, ...]:
        """The mistakes on the page shown."""
        return tuple(self.mistakes[i] for i in self.page_items)

    def show(self, evaluation: Evaluation | None) -> None:
        self.evaluation = evaluation
        if evaluation is not None and not evaluation.misclassified:
            self.notice = f"No mistakes {on_the_set(evaluation)}."
        self.set_source(MistakeSource(evaluation) if evaluation is not None and evaluation.misclassified else None)

    def step(self, delta: int) -> None:
        self.page_by(delta)
