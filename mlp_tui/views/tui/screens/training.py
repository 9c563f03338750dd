"""The training screen: status, batch progress, charts, per-class table, mistakes, confusion,
layer health, weights, drawing, the training data and the test predictions; keys to change the
learning rate while the run trains."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import ProgressBar, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from mlp_tui.core.config import RunConfig
from mlp_tui.core.datasets import dataset_info
from mlp_tui.core.events import (
    BatchProgress,
    EpochEnd,
    Evaluation,
    HealthWarning,
    LayerHealth,
    LrChanged,
    Paused,
    Resumed,
    RunFailed,
    RunFinished,
    RunStarted,
    ThreadsChanged,
)
from mlp_tui.runs.follow import RunStatus
from mlp_tui.runs.handle import RunHandle
from mlp_tui.text.report import pct
from mlp_tui.views.tui.dialogs import ConfirmDialog
from mlp_tui.views.tui.messages import EngineEvent
from mlp_tui.views.tui.screens.base import SCREENSHOT, SizedScreen
from mlp_tui.views.tui.widgets.chart import MetricChart
from mlp_tui.views.tui.widgets.class_table import ClassTable
from mlp_tui.views.tui.widgets.confusion import ConfusionView
from mlp_tui.views.tui.widgets.data_view import DataView
from mlp_tui.views.tui.widgets.digit_grid import DigitGrid
from mlp_tui.views.tui.widgets.draw_pad import DrawPad
from mlp_tui.views.tui.widgets.fitted_footer import FittedFooter
from mlp_tui.views.tui.widgets.gallery import MistakeGallery
from mlp_tui.views.tui.widgets.health import LEGEND, HealthLog, HealthTable
from mlp_tui.views.tui.widgets.lr_dialog import LrDialog
from mlp_tui.views.tui.widgets.model_summary import ModelSummary
from mlp_tui.views.tui.widgets.predictions_view import PredictionsView
from mlp_tui.views.tui.widgets.status_header import StatusHeader
from mlp_tui.views.tui.widgets.weights_view import WeightsView


class TrainingScreen(SizedScreen):
    BINDINGS = [
        Binding("space,p", "toggle_pause", "Pause/resume"),
        Binding("s", "stop", "Stop"),
        Binding("n", "new_run", "New run"),
        # The Mistakes tab pages with . and , as every digit grid does; [ and ] as they always have.
        Binding("left_square_bracket", "mistake(-1)", "Prev mistakes", key_display="[", show=False),
        Binding("right_square_bracket", "mistake(1)", "Next mistakes", key_display="]", show=False),
        Binding("1", "tab('charts')", "Charts", show=False),
        Binding("2", "tab('classes')", "Classes", show=False),
        Binding("3", "tab('mistakes')", "Mistakes", show=False),
        Binding("4", "tab('confusion')", "Confusion", show=False),
        Binding("5", "tab('model')", "Model", show=False),
        Binding("6", "tab('health')", "Health", show=False),
        Binding("7", "tab('weights')", "Weights", show=False),
        Binding("8", "tab('draw')", "Draw", show=False),
        Binding("9", "tab('data')", "Data", show=False),
        Binding("0", "tab('predictions')", "Predictions", show=False),
        Binding("minus", "scale_lr(0.5)", "lr÷2", key_display="-"),
        Binding("plus,equals_sign", "scale_lr(2)", "lr×2", key_display="+"),
        Binding("l", "type_lr", "Set lr"),
        SCREENSHOT,  # after the keys of a live run: at 80 columns the footer shows it once the run is over
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, config: RunConfig, preset: str, control: RunHandle, watching: bool = False) -> None:
        super().__init__()
        self.control = control  # pause/resume/stop/paused: the training process's handle
        self.watching = watching  # following a run another process started (mlp-tui watch)
        self.config, self.preset = config, preset
        self.state = "starting"  # starting | running | paused | stopping | finished | failed | stale | died
        self.started_at = time.time()  # wall clock: a watcher takes the run's own start
        self.ended_at: float | None = None
        self.epoch = 0
        self.epoch_seconds: list[float] = []
        self.epoch_rates: list[float] = []  # images/s per epoch, as the engine measured them
        self.progress: BatchProgress | None = None  # the latest: the ETA moves within an epoch
        self.device = "…"
        self.run_dir = ""
        self.result: RunFinished | RunFailed | None = None
        self.lr = config.lr  # as the run last reported it (EpochEnd, LrChanged)
        # Asked for from here, not yet reported as taken: (rate, False) typed, (factor, True) by the keys.
        self.lr_asked: tuple[float, bool] | None = None
        self.batches: int | None = None  # per epoch: places a learning-rate change on the charts
        self.best_epochs: list[int] = []  # epochs that were the best so far when they ended
        self.warnings: list[HealthWarning] = []
        # Whether events are news (toast-worthy) rather than the run's history being replayed:
        # see note_live().
        self.live = False

    def compose(self) -> ComposeResult:
        classes = dataset_info(self.config.dataset).classes
        with Vertical(id="top"):
            yield StatusHeader(id="status")
            with Horizontal(id="progress-row"):
                yield ProgressBar(id="batch-progress", show_eta=False)
                yield Static(id="progress-text")
        with TabbedContent(initial="charts", id="tabs"):
            with TabPane("Charts", id="charts"):
                with Horizontal(id="charts-row"):
                    with Vertical(id="chart-column"):
                        yield MetricChart("loss", ("train", "val"), after_best="val", id="loss-chart")
                        yield MetricChart("accuracy %", ("train", "val"), percent=True, id="acc-chart")
                    with VerticalScroll(id="side-column"):
                        yield ClassTable(classes, id="side-classes")
            with TabPane("Classes", id="classes"):
                with VerticalScroll():
                    yield ClassTable(classes, id="classes-table")
            with TabPane("Mistakes", id="mistakes"):
                yield MistakeGallery(id="gallery")  # sizes its pages to its own height: no scroll
            with TabPane("Confusion", id="confusion"):
                with VerticalScroll():
                    yield ConfusionView(id="confusion-view")
            with TabPane("Model", id="model"):
                with VerticalScroll():
                    yield ModelSummary(self.config, self.preset, id="model-summary")
            with TabPane("Health", id="health"):
                with VerticalScroll(id="health-top"):
                    yield HealthTable(id="health-table")
                    yield Static(LEGEND, id="health-legend")
                with VerticalScroll(id="health-log-scroll"):
                    yield HealthLog(id="health-log")
            with TabPane("Weights", id="weights"):
                yield WeightsView(id="weights-view")  # sizes its pages to its own height: no scroll
            with TabPane("Draw", id="draw"):
                yield DrawPad(classes=classes, id="draw-pad")
            with TabPane("Data", id="data"):
                yield DataView(self.config, self.mlp_app.data_dir, id="data-view")
            with TabPane("Predictions", id="predictions"):
                yield PredictionsView(data_dir=self.mlp_app.data_dir, id="predictions-view")
        yield FittedFooter()  # only the keys that fit whole; the rest are in the palette

    def on_mount(self) -> None:
        self.query_one(ConfusionView).show(None)
        if not self.config.health:
            self.query_one(HealthTable).empty_text = "Layer health is not measured in this run (--no-health)."
        self.set_interval(1.0, self.update_status)
        self.update_status()
        self.follow_training()

    # -- the worker -----------------------------------------------------------------------
    @work(thread=True, exit_on_error=False, group="training")
    def follow_training(self) -> None:
        """Reads the training process's events on a thread; each reaches the UI as a message."""
        self.mlp_app.relay_events(self.control, lambda event: self.post_message(EngineEvent(event)))

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and self.result is None:
            # A fault outside the engine's own handling (it reports its faults as events).
            self.show_failure(RunFailed(reason="error", message=str(event.worker.error)))

    # -- engine events ----------------------------------------------------------------------
    def on_unmount(self) -> None:
        self.control.close()  # ends the event relay; a live child run stops and saves

    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        self.note_live(event)
        if isinstance(event, RunStatus):
            self.show_run_status(event.status)
        elif isinstance(event, BatchProgress):
            self.show_progress(event)
        elif isinstance(event, EpochEnd):
            self.show_epoch(event)
        elif isinstance(event, LayerHealth):
            self.query_one(HealthTable).add(event.epoch, event.layers)
        elif isinstance(event, HealthWarning):
            self.show_warning(event)
        elif isinstance(event, LrChanged):
            self.show_lr_change(event)
        elif isinstance(event, (Paused, Resumed)):
            self.show_pause(event)
        elif isinstance(event, ThreadsChanged):
            self.device = event.device  # `--threads auto` moved: the header says so
            self.update_status()
        elif isinstance(event, Evaluation):
            self.show_evaluation(event)
        elif isinstance(event, RunStarted):
            self.show_start(event)
        elif isinstance(event, RunFinished):
            self.show_finished(event)
        elif isinstance(event, RunFailed):
            self.show_failure(event)

    def note_live(self, event) -> None:
        """From which event on the stream is news. A watcher (RunWatch) first replays the whole
        metrics.jsonl and only then sends its first RunStatus; the app's own run replays a
        resumed run's history without any BatchProgress, while a live epoch always sends one
        (the engine reports its last batch). Old warnings in a replay then do not toast."""
        if isinstance(event, RunStatus) or (isinstance(event, BatchProgress) and not self.watching):
            self.live = True

    def show_run_status(self, status: str) -> None:
        """What the watcher sees of a run's process; a run's own events say more, later."""
        if status in ("stale", "died"):
            self.state = status
        elif status in ("running", "paused") and self.state in ("starting", "stale", "running", "paused"):
            self.state = status
        self.update_status()
        self.refresh_bindings()

    def show_start(self, event: RunStarted) -> None:
        # A resumed run starts again in the same directory: its epochs continue the charts.
        self.result, self.ended_at, self.progress = None, None, None
        if event.time:
            self.started_at = event.time
        self.best_epochs = [e for e in self.best_epochs if e <= event.start_epoch]
        self.warnings = [w for w in self.warnings if w.epoch <= event.start_epoch]
        for chart in self.query(MetricChart):
            chart.best_epoch = self.best_epoch
            chart.truncate(event.start_epoch)
        self.query_one(HealthTable).truncate(event.start_epoch)
        self.query_one(HealthLog).truncate(event.start_epoch)
        self.show_warning_count()
        if event.train_size:
            self.batches = max(1, math.ceil(event.train_size / self.config.batch_size))
        self.state = "paused" if self.control.paused else "running"
        self.device, self.run_dir = event.device, event.run_dir or ""
        if event.run_dir:  # they read the run's checkpoints, also when watching
            for view in self.checkpoint_views():
                view.set_run(event.run_dir)
        self.query_one(PredictionsView).set_split("val")  # a resumed run trains again: no test set yet
        self.epoch = event.start_epoch
        self.query_one(ModelSummary).show_start(event)
        self.update_status()
        self.refresh_bindings()  # a resumed run's keys come back

    def show_progress(self, event: BatchProgress, means: bool = True) -> None:
        self.batches, self.progress = event.batches, event
        if event.lr is not None:
            self.lr = event.lr  # the rate now (a schedule moves it); the lr keys send a factor of the run's own
        bar = self.query_one("#batch-progress", ProgressBar)
        bar.update(total=event.batches, progress=event.batch)
        running = f" · loss {event.loss:.3f} · acc {event.accuracy * 100:.1f}%" if means else ""
        self.query_one("#progress-text", Static).update(
            f" {event.batch}/{event.batches} · {event.samples_per_s:,.0f} img/s{running}",
            layout=False,  # fixed-size line: skip the layout pass, keep the UI cheap while training
        )

    def checkpoint_views(self) -> tuple:
        return self.query_one(WeightsView), self.query_one(DrawPad), self.query_one(PredictionsView)

    def show_epoch(self, event: EpochEnd) -> None:
        for view in self.checkpoint_views():
            view.epoch_ended()
        self.epoch = event.epoch
        self.epoch_seconds.append(event.seconds)
        self.epoch_rates.append(event.samples_per_s)
        self.lr = event.lr
        if event.is_best:
            self.best_epochs.append(event.epoch)
        loss, acc = self.query_one("#loss-chart", MetricChart), self.query_one("#acc-chart", MetricChart)
        loss.best_epoch = acc.best_epoch = self.best_epoch
        loss.add("train", event.epoch, event.train_loss)
        loss.add("val", event.epoch, event.val_loss)
        acc.add("train", event.epoch, event.train_accuracy)
        acc.add("val", event.epoch, event.val_accuracy)
        loss.replot()
        acc.replot()
        self.update_status()

    @property
    def best_epoch(self) -> int | None:
        """The epoch whose weights the run keeps (the best on validation so far)."""
        if isinstance(self.result, RunFinished) and self.result.best_epoch is not None:
            return self.result.best_epoch
        return self.best_epochs[-1] if self.best_epochs else None

    def show_warning(self, warning: HealthWarning) -> None:
        if any((w.epoch, w.code, w.layer) == (warning.epoch, warning.code, warning.layer) for w in self.warnings):
            return  # the same warning again (a watcher that rereads a resumed run): said once
        self.warnings.append(warning)
        self.query_one(HealthLog).add_warning(warning)
        self.show_warning_count()
        if self.live and warning.epoch >= self.epoch:
            self.notify(warning.text, title="Health warning (tab 6)", severity="warning", timeout=12, markup=False)

    def show_warning_count(self) -> None:
        count = len(self.warnings)
        self.query_one(TabbedContent).get_tab("health").label = (
            f"Health {count}!" if 0 < count < 100 else "Health 99+" if count else "Health"
        )  # short: the ten labels fill 80 columns with a two-digit count

    def show_lr_change(self, event: LrChanged) -> None:
        self.lr, self.lr_asked = event.lr, None
        x = event.epoch - 1 + (event.batch / self.batches if self.batches else 0.5)
        for chart in self.query(MetricChart):
            chart.mark_lr(x)
            chart.replot()  # a change by hand is rare: draw it now rather than at the epoch's end
        self.query_one(HealthLog).add_lr_change(event, self.batches)
        self.query_one(ModelSummary).show_lr_change(event)
        self.update_status()

    def show_pause(self, event: Paused | Resumed) -> None:
        """The run really paused or went on, whoever asked (this app, or a watcher of its run)."""
        if isinstance(event, Paused) and self.progress is not None:
            # Where it stopped, exactly (a watcher's last progress may be older): the bar, the
            # epoch and the ETA. The running loss is the epoch's only if the progress was.
            same = self.progress.epoch == event.epoch
            self.show_progress(replace(self.progress, epoch=event.epoch, batch=event.batch), means=same)
        if self.state in ("running", "paused"):
            self.state = "paused" if isinstance(event, Paused) else "running"
            self.update_status()

    def show_evaluation(self, event: Evaluation) -> None:
        for table in self.query(ClassTable):
            table.update_from(event)
        self.query_one(MistakeGallery).show(event)
        self.query_one(ConfusionView).show(event)

    def show_finished(self, event: RunFinished) -> None:
        for view in self.checkpoint_views():  # now best.pt: the weights the run kept
            view.epoch_ended()
        self.query_one(PredictionsView).set_split("test")  # the run has been tested: now it may be looked at
        self.result, self.state, self.ended_at = event, "finished", self.started_at + event.seconds
        test = "" if event.test_accuracy is None else f": test accuracy {pct(event.test_accuracy)}"
        if not self.watching:  # a watcher replays old sessions' ends too; the status line says it
            self.notify(f"Run {event.status}{test}", title="Training finished", timeout=8)
        self.update_status()
        self.refresh_bindings()
        self.mlp_app.training_ended(self)

    def show_failure(self, event: RunFailed) -> None:
        if self.result is not None:
            return
        self.result, self.state, self.ended_at = event, "failed", time.time()
        self.add_class("-failed")  # the status line grows to hold the whole message (what to do next)
        if not self.watching:
            self.notify(event.message, title="Run failed", severity="error", timeout=30)
        self.update_status()
        self.refresh_bindings()
        self.mlp_app.training_ended(self)

    # -- status line ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.state in ("starting", "running", "paused", "stopping", "stale")

    def update_status(self) -> None:
        self.query_one(StatusHeader).show(self)

    # -- actions --------------------------------------------------------------------------------
    def action_toggle_pause(self) -> None:
        control = self.control
        if not self.running or self.state == "stopping":
            return
        if self.state == "paused":  # as the run's events last said: a watcher may have paused it
            control.resume()
            self.state = "running"
        else:
            control.pause()
            self.state = "paused"
        self.update_status()

    def action_stop(self) -> None:
        if not self.running:
            return
        if self.watching:
            question = "Stop the run you are watching? It finishes its batch, saves and ends."

            def answer(yes: bool | None) -> None:
                if yes:
                    self.stop_now()

            self.app.push_screen(ConfirmDialog(question, "Stop run"), answer)
        else:
            self.stop_now()

    def stop_now(self) -> None:
        self.control.stop("stopped")
        self.state = "stopping"
        self.update_status()
        self.refresh_bindings()  # no more learning-rate keys

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "new_run" and self.watching:
            return False  # a watcher does not start runs; hide the key
        if action in ("scale_lr", "type_lr", "toggle_pause", "stop"):
            return self.lr_changeable  # hidden once the run is over (or stopping): they do nothing then
        if action == "mistake":  # the keys page the gallery: on its tab only
            tabs = self.query(TabbedContent)
            return bool(tabs) and tabs.first().active == "mistakes"
        return True

    @on(TabbedContent.TabActivated)
    def tab_changed(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()  # [ and ] work on the Mistakes tab only
        grids = event.pane.query(DigitGrid)
        if grids:  # its keys (pages, bars, …) work straight away, also after a click on the tab
            grids.first().focus()

    def picture_folder(self) -> Path | None:
        return Path(self.run_dir) if self.run_dir else None

    # -- the learning rate ---------------------------------------------------------------------
    @property
    def lr_changeable(self) -> bool:
        return self.running and self.state != "stopping"

    def action_scale_lr(self, factor: float) -> None:
        """The run scales the rate it has when it takes this, not this screen's last word of it
        (a watcher's is seconds old, and a schedule moves the rate every batch)."""
        value, relative = self.lr_asked or (1.0, True)
        self.ask_lr(value * factor, relative, lambda: self.control.scale_lr(factor))

    def action_type_lr(self) -> None:
        if self.lr_changeable:
            value, relative = self.lr_asked or (1.0, True)
            current = self.lr * value if relative else value

            def typed(lr: float | None) -> None:
                if lr is not None:  # None: the dialog was cancelled
                    self.ask_lr(lr)

            self.app.push_screen(LrDialog(current), typed)

    def ask_lr(self, value: float, relative: bool = False, send: Callable[[], None] | None = None) -> None:
        """Send the run a new learning rate (or factor); it takes it at its next batch and says so
        with an LrChanged event (until then the status line shows it as asked for)."""
        if not self.lr_changeable:
            self.notify("The run is over: its learning rate can no longer change.", severity="warning")
            return
        if send is None:
            self.control.set_lr(value)
        else:
            send()
        self.lr_asked = (value, relative)
        self.update_status()

    def action_new_run(self) -> None:
        self.mlp_app.new_run()

    def action_mistake(self, delta: int) -> None:
        self.query_one(MistakeGallery).step(delta)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        if tab == "draw":
            self.query_one(DrawPad).focus_canvas()
        elif tab == "weights":
            self.query_one(WeightsView).focus()
