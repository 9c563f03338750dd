"""What each of a run's events changes on the training screen's widgets: charts, tables, the
batch bar, the health log, the checkpoint views, toasts. The status line is not here: the
screen renders it from its RunProgress, whatever the event."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import ProgressBar, Static, TabbedContent

from mlp_tui.core.events import (
    EpochEnd,
    Evaluation,
    Event,
    HealthWarning,
    LayerHealth,
    LrChanged,
    RunFailed,
    RunFinished,
    RunStarted,
)
from mlp_tui.runs.handle import RunStatus
from mlp_tui.text.report import pct
from mlp_tui.views.state import RunProgress
from mlp_tui.views.tui.widgets.chart import MetricChart
from mlp_tui.views.tui.widgets.class_table import ClassTable
from mlp_tui.views.tui.widgets.confusion import ConfusionView
from mlp_tui.views.tui.widgets.draw_pad import DrawPad
from mlp_tui.views.tui.widgets.gallery import MistakeGallery
from mlp_tui.views.tui.widgets.health import HealthLog, HealthTable
from mlp_tui.views.tui.widgets.model_summary import ModelSummary
from mlp_tui.views.tui.widgets.predictions_view import PredictionsView
from mlp_tui.views.tui.widgets.weights_view import WeightsView


class RunDisplay:
    """The training screen's widgets, brought up to date event by event. `before` and `after`
    are the screen's RunProgress either side of the event."""

    def __init__(self, screen: Screen, watching: bool) -> None:
        self.screen = screen
        self.watching = watching  # a watcher replays old sessions' ends too: no toasts for them

    def show(self, event: Event | RunStatus, before: RunProgress, after: RunProgress) -> None:
        if after.latest is not before.latest and after.latest is not None:
            self.show_progress(after)  # BatchProgress, or a pause that says where it stopped
        match event:
            case RunStarted():
                self.show_start(event, after)
            case EpochEnd():
                self.show_epoch(event, after)
            case LayerHealth():
                self.screen.query_one(HealthTable).add(event.epoch, event.layers)
            case HealthWarning() if after.warnings is not before.warnings:
                self.show_warning(event, after)
            case LrChanged():
                self.show_lr_change(event, after)
            case Evaluation():
                self.show_evaluation(event)
            case RunFinished():
                self.show_finished(event)
            case RunFailed() if after.result is event:
                self.show_failure(event)

    def show_progress(self, run: RunProgress) -> None:
        event = run.latest
        assert event is not None, "shown once there is a batch report"
        self.screen.query_one("#batch-progress", ProgressBar).update(total=event.batches, progress=event.batch)
        running = f" · loss {event.loss:.3f} · acc {event.accuracy * 100:.1f}%" if run.means_current else ""
        self.screen.query_one("#progress-text", Static).update(
            f" {event.batch}/{event.batches} · {event.samples_per_s:,.0f} img/s{running}",
            layout=False,  # fixed-size line: skip the layout pass, keep the UI cheap while training
        )

    def checkpoint_views(self) -> tuple[WeightsView, DrawPad, PredictionsView]:
        """The views that read the run's checkpoints (also when watching)."""
        query = self.screen.query_one
        return query(WeightsView), query(DrawPad), query(PredictionsView)

    def show_start(self, event: RunStarted, run: RunProgress) -> None:
        """A resumed run starts again in the same directory: its epochs continue the charts."""
        for chart in self.screen.query(MetricChart):
            chart.best_epoch = run.best_epoch
            chart.truncate(event.start_epoch)
        self.screen.query_one(HealthTable).truncate(event.start_epoch)
        self.screen.query_one(HealthLog).truncate(event.start_epoch)
        self.show_warning_count(run)
        if event.run_dir:
            for view in self.checkpoint_views():
                view.set_run(event.run_dir)
        self.screen.query_one(PredictionsView).set_split("val")  # a resumed run trains again: no test set yet
        self.screen.query_one(ModelSummary).show_start(event)

    def show_epoch(self, event: EpochEnd, run: RunProgress) -> None:
        for view in self.checkpoint_views():
            view.epoch_ended()
        loss = self.screen.query_one("#loss-chart", MetricChart)
        acc = self.screen.query_one("#acc-chart", MetricChart)
        loss.best_epoch = acc.best_epoch = run.best_epoch
        loss.add("train", event.epoch, event.train_loss)
        loss.add("val", event.epoch, event.val_loss)
        acc.add("train", event.epoch, event.train_accuracy)
        acc.add("val", event.epoch, event.val_accuracy)
        loss.replot()
        acc.replot()

    def show_warning(self, warning: HealthWarning, run: RunProgress) -> None:
        self.screen.query_one(HealthLog).add_warning(warning)
        self.show_warning_count(run)
        if run.live and warning.epoch >= run.epoch:  # news, not the run's history replayed
            self.screen.notify(warning.text, title="Health warning (tab 6)", severity="warning", timeout=12,
                               markup=False)  # fmt: skip

    def show_warning_count(self, run: RunProgress) -> None:
        count = len(run.warnings)
        self.screen.query_one(TabbedContent).get_tab("health").label = (
            f"Health {count}!" if 0 < count < 100 else "Health 99+" if count else "Health"
        )  # short: the ten labels fill 80 columns with a two-digit count

    def show_lr_change(self, event: LrChanged, run: RunProgress) -> None:
        x = event.epoch - 1 + (event.batch / run.batches if run.batches else 0.5)
        for chart in self.screen.query(MetricChart):
            chart.mark_lr(x)
            chart.replot()  # a change by hand is rare: draw it now rather than at the epoch's end
        self.screen.query_one(HealthLog).add_lr_change(event, run.batches)
        self.screen.query_one(ModelSummary).show_lr_change(event)

    def show_evaluation(self, event: Evaluation) -> None:
        for table in self.screen.query(ClassTable):
            table.update_from(event)
        self.screen.query_one(MistakeGallery).show(event)
        self.screen.query_one(ConfusionView).show(event)

    def show_finished(self, event: RunFinished) -> None:
        for view in self.checkpoint_views():  # now best.pt: the weights the run kept
            view.epoch_ended()
        self.screen.query_one(PredictionsView).set_split("test")  # the run has been tested: now it may be looked at
        test = "" if event.test_accuracy is None else f": test accuracy {pct(event.test_accuracy)}"
        if not self.watching:  # a watcher replays old sessions' ends too; the status line says it
            self.screen.notify(f"Run {event.status}{test}", title="Training finished", timeout=8)

    def show_failure(self, event: RunFailed) -> None:
        self.screen.add_class("-failed")  # the status line grows to hold the whole message (what to do next)
        if not self.watching:
            self.screen.notify(event.message, title="Run failed", severity="error", timeout=30)
