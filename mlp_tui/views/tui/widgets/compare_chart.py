"""One metric of every variant of a comparison on one chart (textual-plotext): a line per
variant (the mean over its seeds), in the variant's colour and named in the legend, with dots
at the lowest and highest seed where the seeds differ. A variant with the same points as one
drawn before it is marked at its epochs instead, so that both stay visible.

plotext draws in pure Python, and eight variants of forty epochs take a tenth of a second or
more per chart: the picture is drawn on a worker thread, and the screen shows the last one
until the new one is ready, so keys never wait for a chart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual_plotext import Plot, PlotextPlot

from mlp_tui.views.tui.board_view import Curve
from mlp_tui.views.tui.widgets.axis import y_limits

# Colours that read on dark and light backgrounds (textual-plotext's own data sequence); the
# leaderboard paints each variant's name in the same colour.
PALETTE = (
    (0, 130, 200), (245, 130, 48), (60, 180, 75), (230, 25, 75), (145, 30, 180), (70, 240, 240),
    (240, 50, 230), (180, 225, 40), (170, 110, 40), (128, 128, 128), (0, 128, 128), (128, 0, 0),
)  # fmt: skip


def variant_colour(index: int) -> tuple[int, int, int]:
    return PALETTE[index % len(PALETTE)]


def colour_style(index: int) -> str:
    r, g, b = variant_colour(index)
    return f"rgb({r},{g},{b})"


TWIN_MARKER = "x"  # a variant drawn on top of an identical one: marks that leave its line visible
# Without colour (NO_COLOR) or Unicode (LANG=C), variants are told apart by these marks (the
# leaderboard shows the same one beside the name); "x" stays the twins'.
VARIANT_MARKS = "*o+#@%=&"


def variant_mark(index: int) -> str:
    return VARIANT_MARKS[index % len(VARIANT_MARKS)]


LEGEND_MARGIN = 14  # the chart's width less the room for a legend label (y labels, frame, marker)


@dataclass(frozen=True)
class Picture:
    """Everything a drawing depends on: what to draw, and the size and theme to draw it in."""

    title: str
    curves: tuple[Curve, ...]
    log_scale: bool  # losses of different kinds differ tenfold: a logarithmic y axis
    compact: bool  # a short chart: no axis label under the epochs
    width: int
    height: int
    theme: str
    percent: bool = False  # the axis ends at 100
    plain: bool = False  # no colour, or ASCII only: each variant drawn with its own mark
    ascii: bool = False
    legend: bool = True  # the names over the plot (hidden with a key: the leaderboard names them too)


def draw(picture: Picture) -> Text:
    """The chart as text; pure, so it can run on any thread."""
    plt = Plot()
    plt.plotsize(picture.width, picture.height)
    plt._set_size(picture.width, picture.height)  # as PlotextPlot.render does
    plt.theme(picture.theme)
    plt.title(picture.title)
    if not picture.compact:
        plt.xlabel("epoch")
    # A log scale is drawn as log10 values on a linear axis, labelled in plain numbers
    # (plotext's own log axis fails at some sizes).
    y = (lambda values: [math.log10(v) for v in values]) if picture.log_scale else list
    epochs: set[int] = set()
    drawn: dict[tuple, str] = {}  # a curve's points: the first variant drawn with them
    for curve in picture.curves:
        if curve.epochs:
            epochs.update(curve.epochs)
            twin = drawn.setdefault((curve.epochs, curve.mean, curve.low, curve.high), curve.name)
            room = picture.width - LEGEND_MARGIN if picture.legend else 0
            draw_curve(plt, curve, y, "" if twin == curve.name else twin, room, picture.plain, picture.ascii)
    if epochs:
        ordered: list[float] = sorted(epochs)
        step = max(1, len(ordered) // 8)
        plt.xticks(ordered[::step])
    limits = y_limits(y([v for c in picture.curves for v in (*c.low, *c.high)]),
                      None if picture.log_scale else 0.0, 100.0 if picture.percent else None)  # fmt: skip
    if limits:  # plotext's own would pass 100 % or go below 0 for a flat line
        plt.ylim(*limits)
    if picture.log_scale and epochs:
        low = math.log10(min(v for c in picture.curves for v in c.low))
        high = math.log10(max(v for c in picture.curves for v in c.high))
        ticks = [low + (high - low) * i / 4 for i in range(5)] if high > low else [low]
        plt.yticks(ticks, [f"{10**t:.2g}" for t in ticks])
    return Text.from_ansi(plt.build())


def twin_label(name: str, twin: str, room: int) -> str:
    """The legend's name for a twin, as long as fits: plotext drops the whole legend otherwise."""
    labels = (f"{name} (identical to {twin})", f"{name} (= {twin})", f"{name} (=)")
    return next((label for label in labels if len(label) <= room), name)


def draw_curve(plt, curve: Curve, y, twin: str, room: int, plain: bool = False, ascii: bool = False) -> None:
    """One variant: its mean as a line, its seeds' spread as dots. A twin (the same points as a
    variant drawn before it) would hide that one: it is marked at its epochs only, and says so.
    No room (0) for a legend: the curves go unnamed."""
    colour, xs = variant_colour(curve.index), list(curve.epochs)
    named = room > 0
    mark = variant_mark(curve.index)
    line, point, dot = (mark, mark, ".") if plain else ("braille", "●", "·")
    if twin:
        plt.scatter(
            xs,
            y(curve.mean),
            marker=TWIN_MARKER,
            color=colour,
            label=twin_label(curve.name, twin, room) if named else None,
        )
        return
    spread = [i for i, (lo, hi) in enumerate(zip(curve.low, curve.high, strict=True)) if hi > lo]
    if spread:
        plt.scatter([xs[i] for i in spread], y([curve.low[i] for i in spread]), marker=dot, color=colour)
        plt.scatter([xs[i] for i in spread], y([curve.high[i] for i in spread]), marker=dot, color=colour)
    if len(xs) == 1:  # a line needs two points: one epoch so far is a mark
        plt.scatter(xs, y(curve.mean), marker=point, color=colour, label=curve.name if named else None)
    else:
        plt.plot(xs, y(curve.mean), marker=line, color=colour, label=curve.name if named else None)


class CompareChart(PlotextPlot):
    DEFAULT_CSS = """
    CompareChart { height: 1fr; width: 1fr; min-height: 6; }
    """

    def __init__(self, title: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.curves: tuple[Curve, ...] = ()
        self.log_scale = False
        self.compact = False
        self.percent = False
        self.show_legend = True
        self.wanted: Picture | None = None  # the newest picture asked for
        self.drawing: Picture | None = None  # the one on the worker thread now (one at a time)
        self.shown: tuple[Picture, Text] | None = None  # the last one drawn

    def show(self, title: str, curves: tuple[Curve, ...], log: bool = False, compact: bool = False,
             percent: bool = False) -> None:  # fmt: skip
        log = log and all(v > 0 for c in curves for v in c.low)
        shown = (title, curves, log, compact, percent)
        if shown != (self.title, self.curves, self.log_scale, self.compact, self.percent):
            self.title, self.curves, self.log_scale, self.compact, self.percent = shown
            self.refresh()

    @property
    def legend(self) -> list[str]:
        """The names in the legend: every variant with at least one point."""
        return [c.name for c in self.curves if c.epochs]

    @property
    def text(self) -> str:
        """What the chart shows now, as plain text."""
        return self.shown[1].plain if self.shown else ""

    def picture(self) -> Picture:
        return Picture(
            self.title, self.curves, self.log_scale, self.compact, self.size.width, self.size.height,
            self._get_plotext_theme_name(self.app.theme), self.percent,
            self.app.no_color or getattr(self.app, "ascii", False), getattr(self.app, "ascii", False), self.show_legend,
        )  # fmt: skip

    def render(self):
        picture = self.picture()
        if self.shown is not None and self.shown[0] == picture:
            return self.shown[1]
        if picture.width > 0 and picture.height > 0:
            self.wanted = picture
            if self.drawing is None:
                self.start_drawing()
        return self.shown[1] if self.shown is not None else Text("")  # the old picture meanwhile

    def start_drawing(self) -> None:
        self.drawing = self.wanted
        self.draw_picture(self.wanted)

    @work(thread=True, exit_on_error=False, group="draw")
    def draw_picture(self, picture: Picture) -> None:
        try:
            text = draw(picture)
        except Exception as exc:  # plotext has corners; a chart that cannot draw says so
            text = Text(f"{picture.title}: cannot draw this chart ({exc})")
        self.app.call_from_thread(self.drawn, picture, text)

    def drawn(self, picture: Picture, text: Text) -> None:
        self.drawing = None
        self.shown = (picture, text)
        self.refresh()
        if self.wanted != picture:  # what changed meanwhile: drawn next, in one go
            self.start_drawing()
