"""The training screen's layer health, warnings, best-epoch marks and live learning rate, driven
by events posted through a run handle (as a real run's would be) and read off the screen."""

from __future__ import annotations

import asyncio
import io

import pytest
from rich.console import Console
from textual.widgets import Input, Static, TabbedContent
from textual.widgets._toast import Toast

from conftest import FakeRun, screen_lines, style_of, wait_until
from mlp_tui.core.config import RunConfig
from mlp_tui.core.events import (
    BatchProgress,
    EpochEnd,
    Event,
    HealthWarning,
    LayerHealth,
    LayerStats,
    LrChanged,
    RunFinished,
    RunStarted,
)
from mlp_tui.runs.follow import RunStatus
from mlp_tui.views.tui.app import create_app
from mlp_tui.views.tui.screens.training import TrainingScreen
from mlp_tui.views.tui.widgets.chart import MetricChart
from mlp_tui.views.tui.widgets.health import HealthLog
from mlp_tui.views.tui.widgets.lr_dialog import LrDialog

SIZES = [(120, 40), (80, 24)]
CONFIG = RunConfig(hidden=(256, 128), epochs=10, lr=0.01)
BATCHES = 844

DEAD = HealthWarning(epoch=2, code="dead-units", layer=1, message="layer 1: 64 % of units never fire",
                     advice="lower the learning rate or try leaky_relu")  # fmt: skip


def started() -> RunStarted:
    return RunStarted(config={}, preset="tiny", device="cpu", summary="summary", parameters=1,
                      train_size=54_000, val_size=6_000, test_size=10_000, run_dir="runs/test")  # fmt: skip


def progress(epoch: int, batch: int = BATCHES) -> BatchProgress:
    return BatchProgress(epoch=epoch, epochs=10, batch=batch, batches=BATCHES, loss=0.3, accuracy=0.9,
                         samples_per_s=9000.0)  # fmt: skip


def epoch_end(epoch: int, val_loss: float = 0.3, is_best: bool = True, lr: float = 0.01) -> EpochEnd:
    return EpochEnd(epoch=epoch, epochs=10, train_loss=0.4 / epoch, train_accuracy=0.9, val_loss=val_loss,
                    val_accuracy=0.9, lr=lr, seconds=1.0, samples_per_s=9000.0, is_best=is_best)  # fmt: skip


def health(epoch: int) -> LayerHealth:
    """Layer 1 dies (64 % dead), its gradient vanishes and its updates are too big; layer 2 and
    the output layer are healthy."""
    return LayerHealth(epoch=epoch, layers=(
        LayerStats(layer=1, units=256, dead=0.3 + 0.17 * epoch, saturated=None, act_mean=0.4, act_std=0.6,
                   weight_norm=20.0 + epoch, grad_norm=1e-7, update_ratio=3e-2),
        LayerStats(layer=2, units=128, dead=0.1, saturated=None, act_mean=0.5, act_std=0.7, weight_norm=11.0,
                   grad_norm=0.05, update_ratio=1e-3),
        LayerStats(layer=3, units=10, dead=None, saturated=None, act_mean=None, act_std=None, weight_norm=3.0,
                   grad_norm=0.1, update_ratio=1e-3),
    ))  # fmt: skip


def two_epochs() -> list:
    return [started(), progress(1), epoch_end(1), health(1), progress(2), epoch_end(2), health(2), DEAD]


# -- reading the screen ------------------------------------------------------------------------


def plain(widget: Static) -> str:
    console = Console(width=300, file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text()


def toasts(app) -> list[str]:
    return [str(toast.render()) for toast in app.screen.query(Toast)]


async def open_training(pilot, app, run: FakeRun, watching: bool = False) -> TrainingScreen:
    screen = TrainingScreen(CONFIG, "tiny", run, watching=watching)
    await app.push_screen(screen)
    await wait_until(pilot, lambda: app.screen is screen)
    return screen


def status(screen: TrainingScreen) -> str:
    return plain(screen.query_one("#status", Static))


# -- the Health tab ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_health_tab_shows_each_layer_with_history_and_flags_what_is_out_of_range(size, tmp_path):
    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=size, notifications=True) as pilot:
            run = FakeRun(started())
            screen = await open_training(pilot, app, run)
            await pilot.press("6")  # the tab open before the first figures come
            await wait_until(pilot, lambda: screen.query_one(TabbedContent).active == "health")
            await wait_until(pilot, lambda: "No layer statistics yet" in "\n".join(screen_lines(app)))
            run.send(*two_epochs()[1:])
            await wait_until(pilot, lambda: screen.run.warnings)
            await pilot.pause()

            lines = screen_lines(app)
            text = "\n".join(lines)
            assert "Layer health at epoch 2" in text
            header = next(line for line in lines if "update ratio" in line)
            for column in ("layer", "dead", "activation", "weight norm", "grad norm", "update ratio"):
                assert column in header, header  # every column fits, none cut off
            assert "saturated" not in header  # ReLU layers: dead units, not saturation

            row1 = next(line for line in lines if "layer 1" in line)
            assert "64 %!" in row1 and "1.0e-07!" in row1 and "3.0e-02!" in row1  # dead, vanishing, too big
            assert "0.4 ± 0.6" in row1
            row2 = next(line for line in lines if "layer 2" in line)
            assert "10 %" in row2 and "1.0e-03" in row2 and "!" not in row2  # healthy: no marks
            output = next(line for line in lines if "output" in line and "—" in line)
            assert "!" not in output
            history = lines[lines.index(row1) + 1]  # under each figure, a bar an epoch
            assert "256 units" in history and sum(history.count(c) for c in "▁▂▃▄▅▆▇█") >= 2 * 5

            bad, good = style_of(app, "64 %"), style_of(app, "10 %")
            assert bad.bold and bad.color != good.color
            r, g, b = bad.color.get_truecolor()
            assert r > 2 * g and r > 2 * b, bad  # red

            # The warning, as a line of the tab's log (whole, whatever the width) and on screen.
            assert DEAD.text in plain(screen.query_one(HealthLog))
            assert "epoch 2: layer 1: 64 % of units" in text
            tab = screen.query_one(TabbedContent).get_tab("health")
            assert "1!" in str(tab.label)

    asyncio.run(scenario())


# -- warnings: a toast once, live only ------------------------------------------------------------


@pytest.mark.parametrize("watching", [True, False], ids=["watch", "own-run"])
def test_a_live_warning_toasts_once_and_a_replayed_one_does_not(watching, tmp_path):
    old = HealthWarning(epoch=1, code="slow-updates", layer=2, message="layer 2 barely moves",
                        advice="raise the learning rate")  # fmt: skip
    live = HealthWarning(epoch=3, code="overfitting", layer=None,
                         message="validation loss rising since epoch 2 (best weights kept from epoch 2)",
                         advice="stop, or add dropout")  # fmt: skip
    # A watcher replays metrics.jsonl, then says the run's status; the app's own resumed run
    # replays its history without progress events, and then trains.
    history = [started(), epoch_end(1), health(1), old, epoch_end(2), health(2)]
    if watching:
        history[1:1] = [progress(1)]  # metrics.jsonl keeps some progress lines too
    now_live = RunStatus("running") if watching else progress(3)

    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            run = FakeRun(*history)
            screen = await open_training(pilot, app, run, watching=watching)
            await wait_until(pilot, lambda: screen.run.epoch == 2 and screen.run.warnings)
            await pilot.pause()
            run.send(now_live, epoch_end(3, val_loss=0.5, is_best=False), health(3), live, live)
            await wait_until(pilot, lambda: len(screen.run.warnings) == 2)
            await wait_until(pilot, lambda: toasts(app))
            await pilot.pause(0.2)  # a second toast, had one been sent, would be up by now

            shown = toasts(app)
            assert sum(live.text in t for t in shown) == 1, shown  # the duplicate is not said again
            assert not any(old.text in t for t in shown), shown
            log = plain(screen.query_one(HealthLog))
            assert old.text in log and log.count(live.text) == 1

    asyncio.run(scenario())


# -- the charts: the kept epoch and the stretch after it ------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_charts_mark_the_best_epoch_and_the_worsening_after_it(size, tmp_path):
    losses = [0.5, 0.4, 0.3, 0.35, 0.42]

    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=size, notifications=True) as pilot:
            events: list[Event] = [started()]
            for epoch, loss in enumerate(losses, 1):
                events += [progress(epoch), epoch_end(epoch, val_loss=loss, is_best=loss == min(losses[:epoch]))]
            run = FakeRun(*events)
            screen = await open_training(pilot, app, run)
            await wait_until(pilot, lambda: screen.run.epoch == 5)
            await pilot.pause()

            chart = screen.query_one("#loss-chart", MetricChart)
            assert chart.best_epoch == 3
            before, after = chart.segments("val")
            assert [e for e, _ in before] == [1, 2, 3] and [e for e, _ in after] == [3, 4, 5]
            text = "\n".join(screen_lines(app))
            assert "best: epoch 3" in text  # the chart's title names it; the green line marks it
            assert "val since best" in text  # the legend names the warning-coloured stretch
            assert "best weights: epoch 3" in status(screen)

            run.send(RunFinished(status="completed", epochs_done=5, best_epoch=3, best_val_accuracy=0.9,
                                 test_loss=0.3, test_accuracy=0.91, seconds=5.0))  # fmt: skip
            await wait_until(pilot, lambda: screen.run.status == "finished")
            assert "test accuracy 91.00 % (best weights: epoch 3)" in status(screen)

    asyncio.run(scenario())


# -- the learning rate, live ----------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_lr_keys_halve_and_double_and_a_typed_lr_is_checked(size, tmp_path):
    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=size, notifications=True) as pilot:
            run = FakeRun(started(), progress(1), epoch_end(1, lr=0.02))
            screen = await open_training(pilot, app, run)
            await wait_until(pilot, lambda: screen.run.epoch == 1)
            assert "lr 0.02" in status(screen)
            await wait_until(pilot, lambda: "Set lr" in screen_lines(app)[-1])  # the footer
            footer = screen_lines(app)[-1]
            assert "- lr÷2" in footer and "+ lr×2" in footer and "l Set lr" in footer

            await pilot.press("minus")  # a factor: the run halves the rate it has then, not this screen's 0.02
            assert run.scales == [0.5] and run.lrs == []
            assert "lr 0.02 → ÷2 at the next batch" in status(screen)
            await pilot.press("minus")  # before the run took the first: a quarter, all told
            assert run.scales == [0.5, 0.5]
            assert "lr 0.02 → ÷4 at the next batch" in status(screen)

            run.send(LrChanged(epoch=2, batch=422, lr=0.005, previous=0.02))
            await wait_until(pilot, lambda: screen.run.lr == 0.005)
            assert "lr 0.005 ·" in status(screen)
            assert screen.query_one("#loss-chart", MetricChart).lr_marks == [1.5]  # half-way through epoch 2
            assert "lr (magenta)" in "\n".join(screen_lines(app)).replace("lr changed", "lr")  # the chart says
            assert "epoch 2, batch 422/844: learning rate 0.02 → 0.005" in plain(screen.query_one(HealthLog))
            await pilot.press("plus")
            assert run.scales[-1] == 2 and "lr 0.005 → ×2 at the next batch" in status(screen)

            await pilot.press("l")
            await wait_until(pilot, lambda: isinstance(app.screen, LrDialog))
            dialog = app.screen
            field = dialog.query_one(Input)
            for typed, problem in (("abc", "not a number"), ("-1", "must be above 0"), ("inf", "finite")):
                field.value = ""
                await pilot.press(*typed, "enter")
                assert problem in plain(dialog.query_one("#lr-error", Static))
                assert app.screen is dialog and run.lrs == []  # nothing sent
            field.value = ""
            await pilot.press(*"2e-3", "enter")
            await wait_until(pilot, lambda: app.screen is screen)
            assert run.lrs[-1] == 0.002

            await pilot.press("l", "escape")  # cancelled: nothing sent
            await wait_until(pilot, lambda: app.screen is screen)
            assert run.lrs[-1] == 0.002

            sent = len(run.lrs) + len(run.scales)
            run.send(RunFinished(status="completed", epochs_done=2, best_epoch=1, best_val_accuracy=0.9,
                                 test_loss=0.3, test_accuracy=0.9, seconds=2.0))  # fmt: skip
            await wait_until(pilot, lambda: screen.run.status == "finished")
            await pilot.press("minus", "plus", "l")
            await pilot.pause()
            assert len(run.lrs) + len(run.scales) == sent and app.screen is screen  # a finished run's lr is history
            await wait_until(pilot, lambda: "Set lr" not in screen_lines(app)[-1])  # the keys leave the footer

    asyncio.run(scenario())
