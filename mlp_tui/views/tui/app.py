"""The Textual app: owns the run control and wires screens to the engine."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from rich.markup import escape
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from mlp_tui.core.architecture import config_rows, format_rows, parameter_count
from mlp_tui.core.config import RunConfig
from mlp_tui.core.events import Event
from mlp_tui.core.presets import Preset, list_presets
from mlp_tui.runs.child import ChildRun
from mlp_tui.runs.compare.board import Board
from mlp_tui.runs.compare.driver import start_driver
from mlp_tui.runs.compare.folder import request_stop
from mlp_tui.runs.compare.plan import Plan, new_comparison
from mlp_tui.runs.follow import RunStatus, RunWatch
from mlp_tui.runs.handle import RunHandle
from mlp_tui.text.terminal import ascii_only
from mlp_tui.views.tui.ascii_driver import ascii_driver
from mlp_tui.views.tui.dialogs import ConfirmDialog
from mlp_tui.views.tui.screens.base import SizedScreen
from mlp_tui.views.tui.screens.compare import CompareScreen
from mlp_tui.views.tui.screens.setup import SetupScreen
from mlp_tui.views.tui.screens.training import TrainingScreen


class MlpApp(App):
    TITLE = "mlp-tui"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        presets: list[Preset],
        preset: str,
        config: RunConfig | None = None,
        *,
        autostart: bool = False,
        data_dir: Path | None = None,
        runs_root: Path = Path("runs"),
        resume: Path | None = None,
        watch: Path | None = None,
        compare: Board | None = None,
        drive: dict | None = None,
    ) -> None:
        ascii = ascii_only(sys.__stdout__)  # the terminal's, not Textual's capture of stdout
        super().__init__(driver_class=ascii_driver(self.get_driver_class()) if ascii else None)
        self.ascii = ascii  # widgets draw their ASCII forms; the driver translates the rest
        # A run directory to follow instead of training (not `self.watch`: that is Textual's DOMNode.watch).
        self.watched_run = watch
        self.compare = compare  # a comparison to show instead of the setup screen
        self.drive = drive  # start_driver's arguments, when this app is to train that comparison
        self.comparing: CompareScreen | None = None
        self.resume = resume  # a run directory to continue, with autostart
        self.presets, self.preset, self.config = presets, preset, config
        self.autostart, self.data_dir, self.runs_root = autostart, data_dir, runs_root
        self.training: TrainingScreen | None = None
        self.quitting = False
        self.device_label = "detecting…"
        self.device_asked = False

    def on_mount(self) -> None:
        if self.compare is not None:
            driver = start_driver(self.compare.folder, **self.drive) if self.drive is not None else None
            self.comparing = CompareScreen(self.compare, driver)
            self.push_screen(self.comparing)
            return
        if self.watched_run is not None:
            if self.config is None:
                raise ValueError("watching a run needs its config (the run's config.toml)")
            self.training = TrainingScreen(self.config, self.preset, RunWatch(self.watched_run), watching=True)
            self.push_screen(self.training)
            return
        setup = SetupScreen(self.presets, self.preset, self.config)
        self.push_screen(setup)
        if self.autostart:
            self.start_run(setup.config, setup.preset)
        else:
            self.ask_device()

    def ask_device(self) -> None:
        """Only for the setup screen's label: with a run starting straight away, the training
        process is importing torch and loading data, and says which device it got itself."""
        if not self.device_asked:
            self.device_asked = True
            self.detect_device()

    # -- runs -------------------------------------------------------------------------------
    def start_run(self, config: RunConfig, preset: str) -> None:
        run = ChildRun(config, preset, self.data_dir, self.runs_root, self.resume)
        self.resume = None  # only the first run continues an old one
        self.training = TrainingScreen(config, preset, run)
        self.push_screen(self.training)

    @staticmethod
    def relay_events(run: RunHandle, post: Callable[[Event | RunStatus], object]) -> None:
        """Called on the screen's worker thread: relay the training process's events."""
        try:
            for event in run.events():
                post(event)
        finally:
            run.close()

    def training_ended(self, screen: TrainingScreen) -> None:
        if self.quitting:
            self.exit()

    @property
    def run_in_progress(self) -> bool:
        """A run this app owns is going (a watched run is not ours to stop by quitting)."""
        return self.training is not None and self.training.running and self.watched_run is None

    def new_run(self) -> None:
        def go_back(confirmed: bool | None = True) -> None:
            if not confirmed:
                return
            if self.training is not None and self.run_in_progress:
                self.training.stop_now()
            self.training = None
            self.pop_screen()
            self.ask_device()

        if self.run_in_progress:
            self.push_screen(
                ConfirmDialog(
                    "A run is in progress. Stop it (its last checkpoint is saved) and set up a new one?", "Stop run"
                ),
                go_back,
            )
        else:
            go_back()

    # -- comparisons ----------------------------------------------------------------------------
    def start_comparison(self, plan: Plan) -> Path:
        """From the setup screen: a new comparison directory, its driver, the compare screen."""
        folder = new_comparison(plan, self.runs_root)
        driver = start_driver(folder, data_dir=self.data_dir)
        self.comparing = CompareScreen(Board(plan, folder), driver)
        self.push_screen(self.comparing)
        return folder

    @property
    def comparison_in_progress(self) -> bool:
        """A comparison this app started is training (one it only watches is not ours to stop)."""
        return self.comparing is not None and self.comparing.driving

    def leave_comparison(self, screen: CompareScreen) -> None:
        """Back to the setup screen; a comparison this app trains is stopped first (saved)."""

        def go_back(confirmed: bool | None = True) -> None:
            if not confirmed:
                return
            if screen.driving:
                screen.stop_now()  # the driver runs on in its own process until its runs have saved
            self.comparing = None
            self.pop_screen()
            self.ask_device()

        if screen.driving:
            self.push_screen(ConfirmDialog(
                "The comparison is training. Stop it (its runs save their last checkpoint) and set up a new one?",
                "Stop comparison",
            ), go_back)  # fmt: skip
        else:
            go_back()

    def model_summary(self, config: RunConfig) -> tuple[str, int]:
        """The summary table and parameter count, from the config alone (no torch here)."""
        return format_rows(config_rows(config)), parameter_count(config)

    @work(thread=True, exit_on_error=False)
    def detect_device(self) -> None:
        """Importing torch takes a second or two: do it off the UI thread, after the first
        paint. (Training itself runs in its own process.)"""
        from mlp_tui.engine.model import device_name, pick_device

        label = device_name(pick_device("auto"))
        self.call_from_thread(self.show_device, label)

    def show_device(self, label: str) -> None:
        self.device_label = label
        for screen in self.screen_stack:
            if isinstance(screen, SetupScreen):
                screen.refresh_summary()

    # -- quitting -----------------------------------------------------------------------------
    async def action_quit(self) -> None:
        if self.comparison_in_progress:
            self.quit_comparison()
            return
        if not self.run_in_progress:
            self.exit()
            return

        def answer(confirmed: bool | None) -> None:
            if not confirmed:
                return
            if self.training is None or not self.run_in_progress:  # it ended while the question was open
                self.exit()
                return
            self.quitting = True
            self.training.stop_now()  # the engine saves its last checkpoint, then we exit

        self.push_screen(
            ConfirmDialog("A run is in progress. Stop it, save its last checkpoint and quit?", "Quit"), answer
        )

    def quit_comparison(self) -> None:
        screen = self.comparing
        assert screen is not None, "called only while comparison_in_progress"
        folder = screen.folder

        def answer(confirmed: bool | None) -> None:
            if not confirmed:
                return
            if screen.driving:
                request_stop(folder)  # the driver stops its runs, saved, after we have gone
            self.exit()

        self.push_screen(ConfirmDialog(
            "The comparison is training. Stop it and quit? Its runs save their last checkpoint; finish them "
            f"later with:\n  mlp-tui compare --resume {escape(str(folder))}",
            "Stop and quit",
        ), answer)  # fmt: skip

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, SizedScreen):
            yield SystemCommand("Save a picture of the screen", "An SVG in the run or comparison directory (ctrl+s)",
                                screen.action_save_picture)  # fmt: skip
        if isinstance(screen, TrainingScreen):
            yield SystemCommand("Pause / resume", "Pause or resume training", screen.action_toggle_pause)
            yield SystemCommand("Stop run", "Stop training after the current batch", screen.action_stop)
            yield SystemCommand("New run", "Back to the setup screen", screen.action_new_run)
            yield SystemCommand(
                "Halve the learning rate", "From the next batch on (-)", lambda: screen.action_scale_lr(0.5)
            )
            yield SystemCommand(
                "Double the learning rate", "From the next batch on (+)", lambda: screen.action_scale_lr(2.0)
            )
            yield SystemCommand("Set the learning rate", "Type a new one (l)", screen.action_type_lr)
        if isinstance(screen, SetupScreen):
            yield SystemCommand("Start training", "Train with the current settings", screen.action_start)
            yield SystemCommand("Look at the data", "Training images as these settings distort them (ctrl+t)",
                                screen.action_look_at_data)  # fmt: skip
            yield SystemCommand("Compare mode", "Tick settings to train side by side (ctrl+k)",
                                lambda: screen.action_compare_mode(not screen.comparing))  # fmt: skip
        if isinstance(screen, CompareScreen):
            yield SystemCommand("Stop comparison", "Stop every run of the comparison (saved)", screen.action_stop)
            yield SystemCommand("Training / validation curves", "Toggle which curves the charts show",
                                screen.action_toggle_curves)  # fmt: skip


def create_app(
    preset: str = "dropout",
    config: RunConfig | None = None,
    *,
    autostart: bool = False,
    data_dir: Path | None = None,
    runs_root: Path = Path("runs"),
    presets: list[Preset] | None = None,
    resume: Path | None = None,
    watch: Path | None = None,
    compare: Board | None = None,
    drive: dict | None = None,
) -> MlpApp:
    """The one factory for the app, used by the CLI and the tests."""
    return MlpApp(
        presets if presets is not None else list_presets(),
        preset,
        config,
        autostart=autostart,
        data_dir=data_dir,
        runs_root=runs_root,
        resume=resume,
        watch=watch,
        compare=compare,
        drive=drive,
    )
