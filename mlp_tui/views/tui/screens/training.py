"""The training screen: status, batch progress, charts, per-class table, mistakes, confusion,
layer health, weights, drawing, the training data and the test predictions; keys to pause, stop
and change the learning rate while the run trains. The run's state is one RunProgress, folded
from its events; its widgets follow the events through a RunDisplay."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import var
from textual.widgets import ProgressBar, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from mlp_tui.core.config import RunConfig
from mlp_tui.core.datasets import dataset_info
from mlp_tui.core.events import EndStatus, Event, RunFailed, RunFinished, RunStarted
from mlp_tui.runs.handle import RunHandle, RunStatus
from mlp_tui.views.state import RunProgress, RunState
from mlp_tui.views.tui.dialogs import ConfirmDialog
from mlp_tui.views.tui.messages import EngineEvent
from mlp_tui.views.tui.run_display import RunDisplay
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

    class Ended(Message):
        """The run ended (finished or failed): an app that is quitting waits for this."""

        def __init__(self, result: RunFinished | RunFailed) -> None:
            super().__init__()
            self.result = result

    class NewRun(Message):
        """`n`: back to the setup screen for a new run (the app asks first if this one goes on)."""

    run: var[RunProgress] = var(RunProgress, init=False)  # the run as its events (and keys here) say
    first_tab = "charts"  # the tab it opens on (a lesson's member: the tab the lesson points at)

    def __init__(self, config: RunConfig, preset: str, control: RunHandle, *, data_dir: Path | None = None,
                 watching: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.control = control  # pause/resume/stop/paused: the training process's handle
        self.watching = watching  # following a run another process started (mlp-tui watch)
        self.config, self.preset, self.data_dir = config, preset, data_dir
        # Wall clock until the run's own start is known (a watcher takes the run's).
        start = RunProgress(epochs=config.epochs, batch_size=config.batch_size, watched=watching, lr=config.lr,
                            started_at=time.time())  # fmt: skip
        self.set_reactive(TrainingScreen.run, start)
        self.run_display = RunDisplay(self, watching)

    @property
    def data_folder(self) -> Path | None:
        """The data directory given, else the app's (for a screen pushed from outside the app)."""
        return self.data_dir if self.data_dir is not None else getattr(self.app, "data_dir", None)

    @property
    def result(self) -> RunFinished | RunFailed | None:
        """How the run ended; None while it goes."""
        return self.run.result

    def compose(self) -> ComposeResult:
        classes = dataset_info(self.config.dataset).classes
        with Vertical(id="top"):
            yield StatusHeader(self.preset, self.config.architecture, id="status")
            with Horizontal(id="progress-row"):
                yield ProgressBar(id="batch-progress", show_eta=False)
                yield Static(id="progress-text")
        with TabbedContent(initial=self.first_tab, id="tabs"):
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
                yield DataView(self.config, self.data_folder, id="data-view")
            with TabPane("Predictions", id="predictions"):
                yield PredictionsView(data_dir=self.data_folder, id="predictions-view")
        yield FittedFooter()  # only the keys that fit whole; the rest are in the palette

    def on_mount(self) -> None:
        self.query_one(ConfusionView).show(None)
        if not self.config.health:
            self.query_one(HealthTable).empty_text = "Layer health is not measured in this run (--no-health)."
        self.set_interval(1.0, self.show_status)  # the elapsed clock
        self.show_status()
        self.follow_training()

    def on_unmount(self) -> None:
        self.control.close()  # ends the event relay; a live child run stops and saves

    # -- the run's events ---------------------------------------------------------------------
    @work(thread=True, exit_on_error=False, group="training")
    def follow_training(self) -> None:
        """Reads the run's events on a thread; each reaches the UI as a message."""
        try:
            for event in self.control.events():
                self.post_message(EngineEvent(event))
        finally:
            self.control.close()

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and self.run.result is None:
            # A fault outside the engine's own handling (it reports its faults as events).
            self.take(RunFailed(reason="error", message=str(event.worker.error)))

    def on_engine_event(self, message: EngineEvent) -> None:
        self.take(message.event)

    def take(self, event: Event | RunStatus) -> None:
        before = self.run
        paused = isinstance(event, RunStarted) and self.control.paused  # asked for while it loaded
        self.run = after = before.apply(event, now=time.time(), paused=paused)
        self.run_display.show(event, before, after)
        if after.result is not None and after.result is not before.result:
            self.post_message(self.Ended(after.result))

    def watch_run(self, before: RunProgress, after: RunProgress) -> None:
        self.show_status()
        if after.steerable != before.steerable:
            self.refresh_bindings()  # the run's keys go once it is over (or stopping), and come back on a resume

    def show_status(self) -> None:
        self.query_one(StatusHeader).show(self.run, self.size.width - 2)

    # -- actions --------------------------------------------------------------------------------
    def check_action(self, action: str, parameters) -> bool | None:
        if action == "new_run" and self.watching:
            return False  # a watcher does not start runs; hide the key
        if action in ("scale_lr", "type_lr", "toggle_pause", "stop"):
            return self.run.steerable  # hidden once the run is over (or stopping): they do nothing then
        if action == "mistake":  # the keys page the gallery: on its tab only
            tabs = self.query(TabbedContent)
            return bool(tabs) and tabs.first().active == "mistakes"
        return True

    def action_toggle_pause(self) -> None:
        if not self.run.steerable:
            return
        if self.run.status == RunState.PAUSED:  # as the run's events last said: a watcher may have paused it
            self.control.resume()
            self.run = self.run.resuming()
        else:
            self.control.pause()
            self.run = self.run.pausing()

    def action_stop(self) -> None:
        if not self.run.going:
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
        self.control.stop(EndStatus.STOPPED)
        self.run = self.run.stopping()

    def action_new_run(self) -> None:
        self.post_message(self.NewRun())

    def action_mistake(self, delta: int) -> None:
        self.query_one(MistakeGallery).step(delta)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        if tab == "draw":
            self.query_one(DrawPad).focus_canvas()
        elif tab == "weights":
            self.query_one(WeightsView).focus()

    @on(TabbedContent.TabActivated)
    def tab_changed(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()  # [ and ] work on the Mistakes tab only
        grids = event.pane.query(DigitGrid)
        if grids:  # its keys (pages, bars, …) work straight away, also after a click on the tab
            grids.first().focus()

    def picture_folder(self) -> Path | None:
        return Path(self.run.run_dir) if self.run.run_dir else None

    def system_commands(self) -> Iterator[SystemCommand]:
        yield from super().system_commands()
        yield SystemCommand("Pause / resume", "Pause or resume training", self.action_toggle_pause)
        yield SystemCommand("Stop run", "Stop training after the current batch", self.action_stop)
        yield SystemCommand("New run", "Back to the setup screen", self.action_new_run)
        yield SystemCommand("Halve the learning rate", "From the next batch on (-)", lambda: self.action_scale_lr(0.5))
        yield SystemCommand("Double the learning rate", "From the next batch on (+)", lambda: self.action_scale_lr(2.0))
        yield SystemCommand("Set the learning rate", "Type a new one (l)", self.action_type_lr)

    # -- the learning rate ---------------------------------------------------------------------
    def action_scale_lr(self, factor: float) -> None:
        """The run scales the rate it has when it takes this, not this screen's last word of it
        (a watcher's is seconds old, and a schedule moves the rate every batch)."""
        value, relative = self.run.lr_asked or (1.0, True)
        self.ask_lr(value * factor, relative, lambda: self.control.scale_lr(factor))

    def action_type_lr(self) -> None:
        if self.run.steerable:
            value, relative = self.run.lr_asked or (1.0, True)
            current = self.run.lr * value if relative else value

            def typed(lr: float | None) -> None:
                if lr is not None:  # None: the dialog was cancelled
                    self.ask_lr(lr)

            self.app.push_screen(LrDialog(current), typed)

    def ask_lr(self, value: float, relative: bool = False, send: Callable[[], None] | None = None) -> None:
        """Send the run a new learning rate (or factor); it takes it at its next batch and says so
        with an LrChanged event (until then the status line shows it as asked for)."""
        if not self.run.steerable:
            self.notify("The run is over: its learning rate can no longer change.", severity="warning")
            return
        if send is None:
            self.control.set_lr(value)
        else:
            send()
        self.run = self.run.asking_lr(value, relative)
