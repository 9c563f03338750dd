"""A per-epoch line chart (textual-plotext) that keeps its own series and replots."""

from __future__ import annotations

from textual_plotext import PlotextPlot


class MetricChart(PlotextPlot):
    """Series of (epoch, value) points, e.g. train and validation loss."""

    DEFAULT_CSS = """
    MetricChart { height: 1fr; width: 1fr; min-height: 8; }
    """

    def __init__(self, title: str, series: tuple[str, ...], percent: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self._cache: tuple[tuple, object] | None = None
        self.title = title
        self.percent = percent
        self.series: dict[str, list[tuple[int, float]]] = {name: [] for name in series}

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

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        plt.xlabel("epoch")
        epochs = sorted({e for pts in self.series.values() for e, _ in pts})
        for name, pts in self.series.items():
            if pts:
                xs, ys = zip(*pts)
                plt.plot(list(xs), list(ys), label=name, marker="braille")
        if epochs:
            step = max(1, len(epochs) // 8)
            plt.xticks(epochs[::step])
        self._cache = None
        self.refresh()

    def render(self):
        # plotext builds the chart in pure Python; rebuild only when the data, size or theme
        # changed, not on every repaint (that would starve the training thread of the GIL).
        key = (self.size, self.app.theme)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, super().render())
        return self._cache[1]
