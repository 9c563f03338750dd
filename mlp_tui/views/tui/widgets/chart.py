"""A per-epoch line chart (textual-plotext) that keeps its own series and replots.

Besides the curves it marks the epoch whose weights the run keeps (a green line), can draw one
series after that epoch in a warning colour (validation loss that no longer improves: the
stretch where the model overfits), and marks hand-made learning-rate changes (magenta lines at
the fraction of the epoch where they took effect).

Without colour (NO_COLOR) or without Unicode (LANG=C) colour cannot tell the lines apart: each
series gets a marker of its own, the learning-rate marks are a column of ':', and the title
names markers instead of colours.
"""

from __future__ import annotations

from textual_plotext import PlotextPlot

from mlp_tui.views.tui.widgets.axis import y_limits

BEST_COLOUR, AFTER_BEST_COLOUR, LR_COLOUR = "green", "orange", "magenta"
LR_MARK = ":"  # without colour: the best epoch keeps plotext's solid line, lr changes are dotted


def series_markers(colour: bool, ascii: bool) -> tuple[str, str, str]:
    """Markers of the first and second series and of the stretch after the best epoch. With
    colour, braille lines (the finest) told apart by colour; without, by their marks."""
    if ascii:
        return "*", "o", "x"
    return ("braille",) * 3 if colour else ("braille", "•", "x")


class MetricChart(PlotextPlot):
    """Series of (epoch, value) points, e.g. train and validation loss."""

    DEFAULT_CSS = """
    MetricChart { height: 1fr; width: 1fr; min-height: 8; }
    """

    def __init__(
        self, title: str, series: tuple[str, ...], percent: bool = False, after_best: str | None = None, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self._cache: tuple[tuple, object] | None = None
        self.title = title
        self.percent = percent
        self.series: dict[str, list[tuple[int, float]]] = {name: [] for name in series}
        self.after_best = after_best  # the series drawn in a warning colour after the best epoch
        self.best_epoch: int | None = None
        self.lr_marks: list[float] = []  # x positions (epochs, fractional) of learning-rate changes

    def on_mount(self) -> None:
        self.replot()

    def add(self, name: str, epoch: int, value: float | None) -> None:
        if value is not None:
            self.series[name].append((epoch, value * 100 if self.percent else value))

    def truncate(self, last_epoch: int) -> None:
        """Forget points after `last_epoch` (a resumed run redoes the epoch it lost)."""
        for name, points in self.series.items():
            self.series[name] = [(e, v) for e, v in points if e <= last_epoch]
        self.replot()

    def points(self, name: str) -> list[tuple[int, float]]:
        return list(self.series[name])

    def mark_lr(self, x: float) -> None:
        self.lr_marks.append(x)

    @property
    def colour(self) -> bool:
        return not self.app.no_color

    @property
    def shaped_marks(self) -> bool:
        """Marks told apart by shape: without colour, and in ASCII (where both would be '|')."""
        return not self.colour or getattr(self.app, "ascii", False)

    def heading(self, room: int) -> str:
        """The title with what the lines mean, shortened to fit (plotext drops a title that
        does not fit over the plot)."""
        best, lr = self.best_epoch is not None, bool(self.lr_marks)
        best_mark, lr_mark = ("|", LR_MARK) if self.shaped_marks else ("green", "magenta")
        for best_text, lr_text in (
            (f"best: epoch {self.best_epoch} ({best_mark})", f"lr changed ({lr_mark})"),
            (f"best: epoch {self.best_epoch} ({best_mark})", f"lr ({lr_mark})"),
            (f"best {self.best_epoch} ({best_mark})", f"lr ({lr_mark})"),
            (f"best {self.best_epoch}", ""),
        ):
            title = " · ".join([self.title] + [best_text] * best + [lr_text] * (lr and bool(lr_text)))
            if len(title) <= room:
                break
        return title

    def segments(self, name: str) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """A series split at the best epoch: up to it, and from it on when it is drawn apart."""
        pts = self.series[name]
        if name != self.after_best or self.best_epoch is None:
            return pts, []
        before = [(e, v) for e, v in pts if e <= self.best_epoch]
        after = [(e, v) for e, v in pts if e >= self.best_epoch]
        return before, after if len(after) > 1 else []

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("epoch")
        epochs: list[float] = sorted({e for pts in self.series.values() for e, _ in pts})
        markers = series_markers(self.colour, getattr(self.app, "ascii", False))
        for i, name in enumerate(self.series):
            before, after = self.segments(name)
            if before:
                xs, ys = zip(*before, strict=True)
                plt.plot(list(xs), list(ys), label=name, marker=markers[min(i, 1)])
            if after:
                xs, ys = zip(*after, strict=True)
                plt.plot(list(xs), list(ys), label=f"{name} since best", marker=markers[2], color=AFTER_BEST_COLOUR)
        if epochs:
            self.draw_marks(plt)
            low, high = min(epochs + self.lr_marks), max(epochs + self.lr_marks)
            if high > low:
                plt.xlim(low, high)
            step = max(1, len(epochs) // 8)
            plt.xticks(epochs[::step])
            limits = y_limits((v for pts in self.series.values() for _, v in pts), 0.0, 100.0 if self.percent else None)
            if limits:  # plotext's own would pass 100 % or go below 0 for a flat line
                plt.ylim(*limits)
        self._cache = None
        self.refresh()

    def draw_marks(self, plt) -> None:
        """The best epoch as a solid line; lr changes as magenta lines, or without colour as
        columns of LR_MARK (plotext's vertical lines are all alike)."""
        if self.best_epoch is not None:
            plt.vline(self.best_epoch, BEST_COLOUR)
        values = [v for pts in self.series.values() for _, v in pts]
        limits = y_limits(values, 0.0, 100.0 if self.percent else None) or (min(values), max(values))
        rows = max(2, self.size.height * 2)  # twice the rows: no gaps in the column
        column = [limits[0] + (limits[1] - limits[0]) * i / (rows - 1) for i in range(rows)]
        for x in self.lr_marks:
            if not self.shaped_marks:
                plt.vline(x, LR_COLOUR)
            else:
                plt.scatter([x] * rows, column, marker=LR_MARK, color=LR_COLOUR)

    def render(self):
        # plotext builds the chart in pure Python; rebuild only when the data, size or theme
        # changed, not on every repaint (that would starve the training thread of the GIL).
        key = (self.size, self.app.theme)
        if self._cache is None or self._cache[0] != key:
            self.plt.title(self.heading(self.size.width - 12))  # its room depends on the size
            self._cache = (key, super().render())
        return self._cache[1]
