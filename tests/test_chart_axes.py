"""Chart axes stay within what their metric can be: accuracy 0-100 %, a loss 0 or more. plotext
pads a flat line by half its value each way (95.5 % became an axis up to 143.3 %)."""

from __future__ import annotations

import asyncio
import re

import pytest
from textual.app import App, ComposeResult

from conftest import wait_until
from mlp_tui.views.tui.board_view import Curve
from mlp_tui.views.tui.widgets.axis import y_limits
from mlp_tui.views.tui.widgets.chart import MetricChart
from mlp_tui.views.tui.widgets.compare_chart import Picture, draw

TICK = re.compile(r"^\s*(-?\d+(?:\.\d+)?)┤")


def y_labels(text: str) -> list[float]:
    """The numbers on the chart's y axis, top to bottom."""
    return [float(m.group(1)) for line in text.splitlines() if (m := TICK.match(line))]


def flat(index: int, name: str, value: float, epochs: int = 1) -> Curve:
    values = (value,) * epochs
    return Curve(index, name, tuple(range(1, epochs + 1)), values, values, values)


@pytest.mark.parametrize("value", [95.5, 100.0, 0.0])
def test_a_flat_accuracy_stays_within_0_and_100_percent(value):
    curves = (flat(0, "nll", value), flat(1, "cross-entropy", value))
    text = draw(Picture("validation accuracy %", curves, False, False, 60, 20, "textual-dark", percent=True)).plain
    labels = y_labels(text)
    assert labels and 0 <= min(labels) and max(labels) <= 100
    assert min(labels) <= value <= max(labels)


def test_a_flat_loss_stays_at_or_above_0():
    text = draw(Picture("validation loss", (flat(0, "nll", 0.0, 3),), False, False, 60, 20, "textual-dark")).plain
    labels = y_labels(text)
    assert labels and min(labels) == 0


def test_limits_keep_the_data_and_the_bounds():
    assert y_limits([80.0, 97.0], 0, 100) == (80.0, 97.0)  # varied data: the data's own range
    low, high = y_limits([100.0], 0, 100)
    assert high == 100 and 90 < low < 100  # a flat line at a bound: the band moves inside
    assert y_limits([float("nan")], 0) is None


class Charts(App):
    def compose(self) -> ComposeResult:
        yield MetricChart("loss", ("train", "val"), id="loss")
        yield MetricChart("accuracy %", ("train", "val"), percent=True, id="acc")


def test_the_training_charts_keep_a_flat_first_epoch_in_range():
    """One epoch at 100 % training and validation accuracy, and a loss of 0."""

    async def scenario() -> None:
        app = Charts()
        async with app.run_test(size=(80, 40)) as pilot:
            loss, acc = app.query_one("#loss", MetricChart), app.query_one("#acc", MetricChart)
            for name in ("train", "val"):
                loss.add(name, 1, 0.0)
                acc.add(name, 1, 1.0)
            loss.replot()
            acc.replot()
            await wait_until(pilot, lambda: y_labels(acc.render().plain) and y_labels(loss.render().plain))
            assert max(y_labels(acc.render().plain)) == 100 and min(y_labels(acc.render().plain)) > 0
            assert min(y_labels(loss.render().plain)) == 0

    asyncio.run(scenario())
