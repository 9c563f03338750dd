"""The compare screen's two header lines: the comparison, how many of its runs finished and
whether anyone trains it now; then which curves the charts show (or the command that finishes
a comparison nobody trains)."""

from __future__ import annotations

from typing import Literal

from rich.markup import escape
from rich.text import Text
from textual.widgets import Static

from mlp_tui.views.tui.board_view import BoardView

# Where a comparison stands ("": nothing to say), and how the header says it ("training" says more).
ComparisonState = Literal["training", "stopping", "done", "ended", "not running", ""]
STATE_MARKUP: dict[ComparisonState, str] = {
    "stopping": "[yellow]■ stopping…[/]", "done": "[green]✔ done[/]", "ended": "[yellow]■ ended[/]",
    "not running": "[yellow]■ not running[/]",
}  # fmt: skip


def comparison_state(
    view: BoardView | None, *, trained_now: bool, stopping: bool, driver_here: bool
) -> ComparisonState:
    """Nothing ("") for runs trained apart, or before the driver was asked about. `trained_now`:
    someone trains it (this app's driver, `driver_here`, or a `compare` elsewhere)."""
    if view is None or not view.is_comparison:
        return ""
    if trained_now:
        return "stopping" if stopping else "training"
    if view.complete and view.finished == view.total:
        return "done"
    if not driver_here and view.driver_alive is None:
        return ""  # not asked yet
    return "ended" if view.complete else "not running"


def state_text(view: BoardView, state: ComparisonState, driver_here: bool) -> str:
    if state != "training":
        return STATE_MARKUP.get(state, "")
    where = "" if driver_here else " (another process)"
    doing = f"{view.running} running" if view.running else "training"
    return f"[green]● {doing}[/]{where}"


class CompareHeader(Static):
    def show(self, view: BoardView, state: ComparisonState, *, driver_here: bool, curves: str, width: int) -> None:
        """`curves`: "val" or "train", the curves the charts show; `width`: the room for a line."""
        parts = [f"[b]{escape(view.title)}[/]", view.grid_text,
                 f"{view.finished}/{view.total} finished"]  # fmt: skip
        line1 = " · ".join(parts + ([state_text(view, state, driver_here)] if state else []))
        shown = "validation" if curves == "val" else "training"
        varied = f"{escape(' · '.join(view.vary))} · " if view.vary else ""
        spread = ", dots: lowest and highest seed" if view.seeds > 1 else ""
        line2 = f"{varied}{shown} curves: mean of the seeds{spread}"
        if Text.from_markup(line2).cell_len > width:
            line2 = f"{shown} curves: mean of the seeds{spread}"
        line2 = f"[dim]{line2}[/]"
        if state == "not running":
            line2 = f"[yellow]finish it with: mlp-tui compare --resume {escape(view.folder)}[/]"
        self.update(f"{line1}\n{line2}")
