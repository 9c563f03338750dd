"""Layer health: a table of each layer's figures with a sparkline of its history under every
figure, out-of-range figures in red with a "!", and a log of warnings and learning-rate changes.

Both widgets keep their own data and draw it with Rich (no plotext): a table of a few rows
costs next to nothing, and they are only touched on epoch-rate events.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from mlp_tui.core.events import HealthWarning, LayerStats, LrChanged

BARS = "▁▂▃▄▅▆▇█"
LAYER_WIDTH = 9  # "256 units"
BAD = "bold red"  # an out-of-range figure (and its points in the history)

# What counts as out of range (the legend under the table says the same in words).
DEAD_LIMIT = SATURATED_LIMIT = 0.5
UPDATE_LOW, UPDATE_HIGH = 1e-4, 1e-2  # update-to-weight ratio; healthy is about 1e-3
# Layer 1's gradient norm against the output layer's: the engine's vanishing-gradients warning
# (engine/insight.py VANISHING_RATIO) starts here too, so a warning and a red figure agree.
VANISHING = 1e-2

LEGEND = (
    "[bold red]![/] out of range: dead or saturated > 50 % · update ratio outside 1e-4…1e-2 "
    "(healthy ≈ 1e-3) · layer 1's grad norm < 1e-2 × the output layer's. "
    "Under each figure: its history, one mark an epoch (oldest left)."
)


def sci(value: float) -> str:
    return f"{value:.1e}"


def short(value: float) -> str:
    return f"{value:.3g}"


def percent(value: float | None) -> str:
    # None: the figure does not apply to the layer (a Metric's text is not asked for then).
    return "—" if value is None else f"{value * 100:.0f} %"


def over(value: float | None, limit: float) -> bool:
    return value is not None and value > limit


@dataclass(frozen=True)
class Metric:
    header: str
    value: Callable[[LayerStats], float | None]
    text: Callable[[LayerStats], str]
    # out of range? given the layer and every layer of the same epoch
    bad: Callable[[LayerStats, tuple[LayerStats, ...]], bool]
    scale: str  # how the history is drawn: "fraction" (0..1), "log" or "linear" (its own range)


def _vanishing(stats: LayerStats, layers: tuple[LayerStats, ...]) -> bool:
    if stats.layer != 1 or len(layers) < 2:
        return False
    return stats.grad_norm < VANISHING * layers[-1].grad_norm


def _none(*_) -> bool:
    return False


METRICS: tuple[Metric, ...] = (
    Metric("dead", lambda s: s.dead, lambda s: percent(s.dead), lambda s, _: over(s.dead, DEAD_LIMIT), "fraction"),
    Metric("saturated", lambda s: s.saturated, lambda s: percent(s.saturated),
           lambda s, _: over(s.saturated, SATURATED_LIMIT), "fraction"),
    Metric("activation", lambda s: s.act_mean, lambda s: f"{s.act_mean:.2g} ± {s.act_std:.2g}", _none, "linear"),
    Metric("weight norm", lambda s: s.weight_norm, lambda s: short(s.weight_norm), _none, "log"),
    Metric("grad norm", lambda s: s.grad_norm, lambda s: sci(s.grad_norm), _vanishing, "log"),
    Metric("update ratio", lambda s: s.update_ratio, lambda s: sci(s.update_ratio),
           lambda s, _: not UPDATE_LOW <= s.update_ratio <= UPDATE_HIGH, "log"),
)  # fmt: skip


def sparkline(values: list[float | None], bad: list[bool], scale: str) -> Text:
    """One bar per value, scaled to 0..1 (fractions) or to the values' own range; a gap for
    None; bars of out-of-range values in red."""
    known = [v for v in values if v is not None and math.isfinite(v)]
    log = scale == "log" and all(v > 0 for v in known)
    f = math.log10 if log else (lambda v: v)
    if scale == "fraction":
        lo, hi = 0.0, 1.0
    elif known:
        lo, hi = min(f(v) for v in known), max(f(v) for v in known)
        if log and hi - lo < 1:  # within a factor of ten: a gentle slope, not noise blown up
            mid = (hi + lo) / 2
            lo, hi = mid - 0.5, mid + 0.5
        elif not log:  # from zero, so a small wobble stays small
            lo, hi = min(lo, 0.0), max(hi, 0.0)
    else:
        lo = hi = 0.0
    line = Text(style="dim")
    for value, wrong in zip(values, bad, strict=True):
        if value is None or not math.isfinite(value):
            line.append(" ")
            continue
        level = 0.5 if hi <= lo else (f(value) - lo) / (hi - lo)
        bar = BARS[min(len(BARS) - 1, max(0, round(level * (len(BARS) - 1))))]
        line.append(bar, style=BAD if wrong else "")
    return line


def column_width(width: int, least: list[int]) -> int:
    """The widest columns (so the longest histories) that fit `width`, every column at least as
    wide as `least` says (its header, its figures); 2 cells between columns (a space of
    padding and the separator)."""
    for column in range(30, 6, -1):
        if LAYER_WIDTH + sum(max(n, column) + 2 for n in least) <= width:
            return column
    return 6


def layer_name(stats: LayerStats, last: bool) -> Text:
    return Text.assemble(("output" if last else f"layer {stats.layer}", "bold"), f"\n{stats.units} units")


class HealthTable(Widget):
    """Every layer's figures at the latest epoch, with the epochs before as sparklines."""

    DEFAULT_CSS = """
    HealthTable { height: auto; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.epochs: dict[int, tuple[LayerStats, ...]] = {}  # epoch -> its layers
        self.empty_text = "No layer statistics yet: they arrive at the end of each epoch."

    def add(self, epoch: int, layers: tuple[LayerStats, ...]) -> None:
        self.epochs[epoch] = layers  # a resumed run that redoes an epoch replaces it
        self.epochs = dict(sorted(self.epochs.items()))
        self.changed()

    def truncate(self, last_epoch: int) -> None:
        self.epochs = {e: layers for e, layers in self.epochs.items() if e <= last_epoch}
        self.changed()

    def changed(self) -> None:
        self.clear_cached_dimensions()  # the height is cached by width: more rows, more lines
        self.refresh(layout=True)

    @property
    def latest(self) -> tuple[int, tuple[LayerStats, ...]] | None:
        if not self.epochs:
            return None
        epoch = next(reversed(self.epochs))
        return epoch, self.epochs[epoch]

    def columns(self) -> list[Metric]:
        """The metrics any layer has (dead for the ReLU family, saturated for sigmoid/tanh)."""
        latest = self.latest
        if latest is None:
            return []
        layers = latest[1]
        return [m for m in METRICS if any(m.value(s) is not None for s in layers)]

    def cell(self, metric: Metric, stats: LayerStats, layers: tuple[LayerStats, ...]) -> Text:
        """The figure (red with a "!" when out of range), an empty cell where it does not apply."""
        if metric.value(stats) is None:
            return Text("—", style="dim")
        if metric.bad(stats, layers):
            return Text.assemble((metric.text(stats), BAD), ("!", BAD))
        return Text(metric.text(stats))

    def history(self, metric: Metric, index: int, width: int) -> Text:
        """The layer's metric over the last `width` epochs."""
        epochs = list(self.epochs.values())[-width:]
        values, bad = [], []
        for layers in epochs:
            stats = layers[index] if index < len(layers) else None
            value = metric.value(stats) if stats is not None else None
            values.append(value)
            bad.append(stats is not None and value is not None and metric.bad(stats, layers))
        return sparkline(values, bad, metric.scale)

    def render(self) -> RenderableType:
        latest = self.latest
        if latest is None:
            return Text(self.empty_text, style="dim")
        epoch, layers = latest
        metrics = self.columns()
        # Every figure's history is as wide as its column: share out the width there is.
        least = [max([len(m.header)] + [self.cell(m, s, layers).cell_len for s in layers]) for m in metrics]
        column = column_width(self.size.width, least)
        history = min(column, len(self.epochs))
        table = Table(
            box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False, padding=(0, 1, 0, 0),
            title=f"Layer health at epoch {epoch}", title_justify="left", title_style="bold",
        )  # fmt: skip
        table.add_column("layer", no_wrap=True, min_width=LAYER_WIDTH)
        for metric in metrics:
            table.add_column(metric.header, no_wrap=True, min_width=max(len(metric.header), column), overflow="crop")
        for index, stats in enumerate(layers):
            row: list[RenderableType] = [layer_name(stats, index == len(layers) - 1)]
            for metric in metrics:
                figure = self.cell(metric, stats, layers)
                if metric.value(stats) is None:
                    row.append(figure)
                else:
                    row.append(Text.assemble(figure, "\n", self.history(metric, index, history)))
            table.add_row(*row)
        return table


class HealthLog(Static):
    """The run's warnings and learning-rate changes, one line each, oldest first."""

    DEFAULT_CSS = """
    HealthLog { height: auto; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lines: list[tuple[int | None, Text]] = []  # (a warning's epoch or None, line)

    def on_mount(self) -> None:
        self.show()

    def add_warning(self, warning: HealthWarning) -> None:
        self.lines.append((warning.epoch, Text.assemble(("! ", "bold yellow"), (warning.text, "yellow"))))
        self.show()

    def add_lr_change(self, event: LrChanged, batches: int | None) -> None:
        where = f"epoch {event.epoch}, batch {event.batch}" + (f"/{batches}" if batches else "")
        self.lines.append((None, Text(f"↯ {where}: learning rate {event.previous:.3g} → {event.lr:.3g}",
                                      style="magenta")))  # fmt: skip
        self.show()

    def truncate(self, last_epoch: int) -> None:
        """A resumed run redoes the epochs after its checkpoint (and warns again if need be);
        its learning-rate changes stand (the checkpoint keeps the rate)."""
        self.lines = [(e, line) for e, line in self.lines if e is None or e <= last_epoch]
        self.show()

    def show(self) -> None:
        title = Text("Warnings and learning-rate changes", style="bold")
        if not self.lines:
            self.update(Group(title, Text("none so far", style="dim")))
        else:
            self.update(Group(title, *(line for _, line in self.lines)))
