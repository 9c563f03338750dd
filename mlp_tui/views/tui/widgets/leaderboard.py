"""The comparison's leaderboard: one row per variant, ranked by mean test accuracy."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from mlp_tui.text.render import bar
from mlp_tui.views.tui.board_view import RowView
from mlp_tui.views.tui.widgets.compare_chart import colour_style, variant_mark

COLUMNS = ("#", "variant", "test acc %", "verdict", "progress", "status", "best ep", "time/run")
COMPACT_COLUMNS = COLUMNS[:5]  # a narrow terminal: the status is in the progress column


def seconds_text(seconds: float) -> str:
    if not seconds:
        return "-"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def verdict_style(verdict: str) -> str:
    if verdict.startswith("leader"):
        return "bold green"
    if verdict.startswith("identical"):
        return "green"
    if verdict.startswith("worse"):
        return "red"
    return "dim"


def noise(row: RowView) -> bool:
    """Not distinguishable from the leader (yet): its place in the ranking is noise."""
    return row.verdict.startswith(("not distinguishable", "too few"))


class Leaderboard(DataTable):
    DEFAULT_CSS = """
    Leaderboard { height: auto; max-height: 12; }
    """
    BINDINGS = [Binding("enter", "select_cursor", "Open run")]  # shown in the footer

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.rows_shown: tuple[RowView, ...] = ()
        self.compact = False

    def on_mount(self) -> None:
        if not self.columns:  # the first rows may have come before this handler ran
            self.add_columns(*self.column_labels)

    @property
    def column_labels(self) -> tuple[str, ...]:
        return COMPACT_COLUMNS if self.compact else COLUMNS

    def progress_cell(self, row: RowView, dim: str) -> Text:
        if row.progress >= 1:
            return Text("✔ done" if self.compact else "✔ all epochs", style=dim or "green")
        filled = bar(row.progress, 6).rstrip()
        if self.compact:
            tail = f" {100 * row.progress:.0f}%"
        else:
            tail = f" {sum(m.epochs_done for m in row.members)}/{sum(m.epochs for m in row.members)} ep"
        return Text.assemble((filled, "green"), ("░" * (6 - len(filled)), "dim"), tail, style=dim)

    def swatch(self, index: int) -> str:
        """The variant's colour; without colour (or Unicode) its mark on the charts."""
        plain = self.app.no_color or getattr(self.app, "ascii", False)
        return variant_mark(index) if plain else "━"

    def cells(self, row: RowView) -> list[Text]:
        dim = "dim" if noise(row) else ""
        rank = f"≈{row.rank}" if dim and not row.rank.startswith("=") else row.rank  # "=2": a tie says more
        cells = [
            Text(rank, style=dim, justify="right"),
            Text.assemble((f"{self.swatch(row.index)} ", colour_style(row.index)), (row.name, dim or "bold")),
            Text(row.accuracy, style=dim, justify="right"),
            Text(row.verdict or "-", style=verdict_style(row.verdict)),
            self.progress_cell(row, dim),
            Text(row.status, style=dim or ("green" if row.status == "done" else "")),
            Text(row.best_epoch, style=dim, justify="right"),
            Text(seconds_text(row.seconds), style=dim, justify="right"),
        ]
        return cells[: len(self.column_labels)]

    def set_compact(self, compact: bool) -> None:
        if compact != self.compact:
            self.compact = compact
            self.show(self.rows_shown, force=True)

    def show(self, rows: tuple[RowView, ...], force: bool = False) -> None:
        if rows == self.rows_shown and not force:
            return
        selected = self.selected_index
        self.rows_shown = rows
        self.clear(columns=True)  # and the columns' widths: "1 running, 2 pending" becomes "done"
        table = [self.cells(row) for row in rows]
        # Widths worked out here, not left to the table: it sizes columns a moment after rows
        # arrive, and a picture taken in that moment showed the old widths.
        for i, label in enumerate(self.column_labels):
            self.add_column(label, width=max([len(label)] + [cells[i].cell_len for cells in table]))
        for row, cells in zip(rows, table, strict=True):
            self.add_row(*cells, key=str(row.index))
        if selected is not None:
            self.move_cursor(row=self.get_row_index(str(selected)), animate=False, scroll=False)

    @property
    def selected_index(self) -> int | None:
        """The grid index of the variant under the cursor."""
        if not self.rows_shown or not 0 <= self.cursor_row < len(self.rows_shown):
            return None
        return self.rows_shown[self.cursor_row].index

    @property
    def selected(self) -> RowView | None:
        index = self.selected_index
        return next((r for r in self.rows_shown if r.index == index), None)
