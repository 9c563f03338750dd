"""Per-class accuracy (class, %, change since the previous evaluation, correct/total), titled with
the split it counts: validation while the run trains, test (with the best weights) at the end."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from mlp_tui.core.datasets import DIGITS, class_label
from mlp_tui.core.events import Evaluation
from mlp_tui.text.render import bar
from mlp_tui.views.tui.widgets.splits import evaluated

BAR = 10  # the accuracy bar's width in cells


class ClassTable(DataTable):
    DEFAULT_CSS = """
    ClassTable { height: auto; max-height: 100%; border-top: solid $secondary; border-title-align: left; }
    """

    def __init__(self, class_names: tuple[str, ...] = DIGITS, **kwargs) -> None:
        # No cursor: a highlighted row would look like a choice, and nothing is chosen here.
        super().__init__(cursor_type="none", zebra_stripes=True, **kwargs)
        self.class_names = class_names  # known before the first evaluation arrives
        self.previous: Evaluation | None = None
        self.current: Evaluation | None = None

    def on_mount(self) -> None:
        # Fixed widths: a DataTable sizes automatic columns a moment after rows arrive, and a
        # table filled while hidden (the side column) kept its bar column 0 wide.
        names = max(len(class_label(self.class_names, c)) for c in range(len(self.class_names)))
        for label, width in (("class", names), ("accuracy", 8), ("change", 7), ("", BAR), ("correct/total", 13)):
            self.add_column(label, width=max(width, len(label)))
        self.border_title = "no evaluation yet"  # then its split: validation, or test at the end
        self.show_evaluation(None)

    def update_from(self, evaluation: Evaluation) -> None:
        if self.current is not None and self.current.split == evaluation.split:
            self.previous = self.current
        else:
            self.previous = None
        self.current = evaluation
        self.class_names = evaluation.classes
        self.border_title = evaluated(evaluation)  # the counts switch split at the run's end: say so
        self.show_evaluation(evaluation)

    def show_evaluation(self, evaluation: Evaluation | None) -> None:
        self.clear()
        for c in range(len(self.class_names)):
            name = class_label(self.class_names, c)  # `7 Sneaker`, as the confusion matrix names rows
            if evaluation is None:
                self.add_row(name, "–", "", "", "", key=str(c))
                continue
            acc = evaluation.class_accuracy[c]
            change = Text("")
            if self.previous is not None:
                delta = (acc - self.previous.class_accuracy[c]) * 100
                style = "green" if delta > 0.005 else "red" if delta < -0.005 else "dim"
                change = Text(f"{delta:+.2f}", style=style)
            self.add_row(
                name,
                f"{acc * 100:6.2f} %",
                change,
                Text(bar(acc, BAR), style="green" if acc >= 0.97 else "yellow" if acc >= 0.9 else "red"),
                f"{evaluation.class_correct[c]}/{evaluation.class_total[c]}",
                key=str(c),
            )
