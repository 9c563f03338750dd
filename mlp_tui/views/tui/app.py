"""The Textual app: opens on its mode's screen, starts what the screens ask for (their messages),
and asks before quitting leaves a run or comparison it trains."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from rich.markup import escape
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from mlp_tui.core.config import RunConfig
from mlp_tui.core.presets import Preset, list_presets
from mlp_tui.runs.child import ChildRun
from mlp_tui.runs.compare.board import Board
from mlp_tui.runs.compare.driver import start_driver
from mlp_tui.runs.compare.folder import request_stop
from mlp_tui.runs.compare.lesson import start_lesson
from mlp_tui.runs.compare.plan import new_comparison
from mlp_tui.runs.follow import RunWatch
from mlp_tui.text.terminal import ascii_only
from mlp_tui.views.tui.ascii_driver import ascii_driver
from mlp_tui.views.tui.dialogs import ConfirmDialog
from mlp_tui.views.tui.modes import AppMode, Compare, Resume, Watch, app_mode
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

    def __init__(self, mode: AppMode, presets: list[Preset], *, data_dir: Path | None = None,
                 runs_root: Path = Path("runs")) -> None:  # fmt: skip
        ascii = ascii_only(sys.__stdout__)  # the terminal's, not Textual's capture of stdout
        super().__init__(driver_class=ascii_driver(self.get_driver_class()) if ascii else None)
        self.ascii = ascii  # widgets draw their ASCII forms; the driver translates the rest
        self.mode, self.presets, self.data_dir, self.runs_root = mode, presets, data_dir, runs_root
        self.training: TrainingScreen | None = None  # the run this app shows (not a comparison's member)
        self.comparing: CompareScreen | None = None
        self.quitting = False  # waiting for the run to end, saved, to exit
        self.device_label = "detecting…"
        self.device_asked = False

    def get_key_display(self, binding: Binding) -> str:
        """Textual names some keys with glyphs ASCII lacks (enter is ⏎): there, their names."""
        shown = super().get_key_display(binding)
        return ("enter" if shown == "⏎" else shown) if self.ascii else shown

    def on_mount(self) -> None:
        mode = self.mode
        if isinstance(mode, Compare):
            driver = start_driver(mode.board.folder, **mode.drive) if mode.drive is not None else None
            self.show_comparison(mode.board, driver, back_to_setup=False)
        elif isinstance(mode, Watch):
            self.training = TrainingScreen(mode.config, mode.preset, RunWatch(mode.run_dir), data_dir=self.data_dir,
                                           watching=True)  # fmt: skip
            self.push_screen(self.training)
        else:
            setup = SetupScreen(self.presets, mode.preset, mode.config, data_dir=self.data_dir,
                                device_label=self.device_label)  # fmt: skip
            self.push_screen(setup)
            if isinstance(mode, Resume):
                self.start_run(setup.config, setup.preset, resume=mode.run_dir)
            elif mode.autostart:
                self.start_run(setup.config, setup.preset)
            else:
                self.ask_device()

    def ask_device(self) -> None:
        """Only for the setup screen's label: with a run starting straight away, the training
        process is importing torch and loading data, and says which device it got itself."""
        if not self.device_asked:
            self.device_asked = True
            self.detect_device()

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
                screen.show_device(label)

    def back_to_setup(self) -> None:
        self.pop_screen()
        self.ask_device()

    # -- runs -------------------------------------------------------------------------------
    def on_setup_screen_start_run(self, message: SetupScreen.StartRun) -> None:
        self.start_run(message.config, message.preset)

    def start_run(self, config: RunConfig, preset: str, resume: Path | None = None) -> None:
        run = ChildRun(config, preset, self.data_dir, self.runs_root, resume)
        self.training = TrainingScreen(config, preset, run, data_dir=self.data_dir)
        self.push_screen(self.training)

    def on_training_screen_ended(self, message: TrainingScreen.Ended) -> None:
        if self.quitting:
            self.exit()

    @property
    def run_in_progress(self) -> bool:
        """A run this app owns is going (a watched run is not ours to stop by quitting)."""
        return self.training is not None and self.training.run.going and not self.training.watching

    def on_training_screen_new_run(self, message: TrainingScreen.NewRun) -> None:
        def go_back(confirmed: bool | None = True) -> None:
            if not confirmed:
                return
            if self.training is not None and self.run_in_progress:
                self.training.stop_now()
            self.training = None
            self.back_to_setup()

        if self.run_in_progress:
            question = "A run is in progress. Stop it (its last checkpoint is saved) and set up a new one?"
            self.push_screen(ConfirmDialog(question, "Stop run"), go_back)
        else:
            go_back()

    # -- comparisons ----------------------------------------------------------------------------
    def on_setup_screen_start_comparison(self, message: SetupScreen.StartComparison) -> None:
        """A new comparison directory, its driver, the compare screen."""
        if message.lesson is not None:  # a comparison plus its lesson, as `mlp-tui lesson NAME` makes
            folder = start_lesson(message.lesson, message.plan, self.runs_root)
        else:
            folder = new_comparison(message.plan, self.runs_root)
        driver = start_driver(folder, data_dir=self.data_dir)
        self.show_comparison(Board(message.plan, folder), driver, back_to_setup=True)

    def show_comparison(self, board: Board, driver: subprocess.Popen | None, back_to_setup: bool) -> None:
        self.comparing = CompareScreen(board, driver, data_dir=self.data_dir, back_to_setup=back_to_setup)
        self.push_screen(self.comparing)

    @property
    def comparison_in_progress(self) -> bool:
        """A comparison this app started is training (one it only watches is not ours to stop)."""
        return self.comparing is not None and self.comparing.driving

    def on_compare_screen_new_setup(self, message: CompareScreen.NewSetup) -> None:
        """Back to the setup screen; a comparison this app trains is stopped first (saved)."""
        screen = message.compare

        def go_back(confirmed: bool | None = True) -> None:
            if not confirmed:
                return
            if screen.driving:
                screen.stop_now()  # the driver runs on in its own process until its runs have saved
            self.comparing = None
            self.back_to_setup()

        if screen.driving:
            self.push_screen(ConfirmDialog(
                "The comparison is training. Stop it (its runs save their last checkpoint) and set up a new one?",
                "Stop comparison",
            ), go_back)  # fmt: skip
        else:
            go_back()

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
            yield from screen.system_commands()


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
    """The one factory for the app, used by the CLI and the tests: the keywords make its mode
    (modes.app_mode says which combinations mean something)."""
    mode = app_mode(preset, config, autostart=autostart, resume=resume, watch=watch, compare=compare, drive=drive)
    return MlpApp(mode, presets if presets is not None else list_presets(), data_dir=data_dir, runs_root=runs_root)
