"""The confusion matrix: rows are true classes, columns predicted; mistakes stand out."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from mlp_tui.core.datasets import class_label
from mlp_tui.core.events import Evaluation
from mlp_tui.views.tui.widgets.splits import on_the_set


class ConfusionView(Static):
    DEFAULT_CSS = """
    ConfusionView { height: auto; width: auto; padding: 0 1; }
    """

    def show(self, evaluation: Evaluation | None) -> None:
        if evaluation is None:
            self.update("No evaluation yet: the matrix appears after the first epoch.")
            return
        table = Table(
            title=f"Confusion matrix {on_the_set(evaluation)}",
            caption="rows: true class · columns: predicted class, by number",
            box=None,
            padding=(0, 1),
        )
        table.add_column("true", justify="left", style="bold")
        for p in range(len(evaluation.classes)):
            table.add_column(str(p), justify="right")
        worst = max((n for t, row in enumerate(evaluation.confusion) for p, n in enumerate(row) if p != t), default=0)
        for t, row in enumerate(evaluation.confusion):
            cells = []
            for p, n in enumerate(row):
                if p == t:
                    style = "bold green"
                elif n == 0:
                    style = "dim"
                else:
                    style = "bold red" if n >= max(1, worst * 0.5) else "yellow"
                cells.append(Text(str(n), style=style))
            table.add_row(class_label(evaluation.classes, t), *cells)
        self.update(table)
