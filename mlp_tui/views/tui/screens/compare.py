"""The compare screen: every variant's curves on two charts, the leaderboard, the verdicts.

The comparison trains in processes of its own (the driver and its pool, started by this app or
by `mlp-tui compare` anywhere else); this screen only reads the member directories, on a worker
thread, like `watch` does.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState, get_current_worker

from mlp_tui.core.config import build_config
from mlp_tui.runs.compare.board import Board
from mlp_tui.runs.compare.driver import driver_outcome
from mlp_tui.runs.compare.folder import driver_alive, request_stop
from mlp_tui.runs.compare.lesson import lesson_in
from mlp_tui.runs.compare.plan import PLAN_FILE
from mlp_tui.runs.layout import METRICS_FILE
from mlp_tui.views.tui.board_view import BoardView, MemberView, RowView, chart_title, notes_markup, snapshot
from mlp_tui.views.tui.dialogs import ConfirmDialog, PickDialog
from mlp_tui.views.tui.messages import BoardChanged
from mlp_tui.views.tui.screens.base import SCREENSHOT, SizedScreen
from mlp_tui.views.tui.screens.member import MemberScreen
from mlp_tui.views.tui.widgets.compare_chart import CompareChart
from mlp_tui.views.tui.widgets.compare_header import CompareHeader, ComparisonState, comparison_state
from mlp_tui.views.tui.widgets.fitted_footer import FittedFooter
from mlp_tui.views.tui.widgets.leaderboard import Leaderboard
from mlp_tui.views.tui.widgets.lesson_panel import LessonPanel

POLL_S = 0.5  # the members' metrics.jsonl are read this often
ALIVE_EVERY_S = 2.0  # and whether a driver elsewhere still runs the comparison


class CompareScreen(SizedScreen):
    BINDINGS = [
        Binding("enter", "open", "Open run", show=False),
        Binding("m", "pick_seed", "Pick seed"),
        Binding("l", "toggle_lesson", "Lesson/loss"),  # shown for a lesson only
        Binding("t", "toggle_curves", "Train/val curves"),
        Binding("g", "toggle_legend", "Legend"),  # it covers curves on a small chart; the leaderboard names them
        Binding("s", "stop", "Stop all"),
        Binding("n", "new", "New setup"),
        SCREENSHOT,
        Binding("q", "app.quit", "Quit"),
    ]
    picture_home = "comparison directory"  # where ctrl+s saves

    class NewSetup(Message):
        """`n`: back to the setup screen (the app stops a comparison it trains first, if told so)."""

        def __init__(self, compare: CompareScreen) -> None:
            super().__init__()
            self.compare = compare

    def __init__(self, board: Board, driver: subprocess.Popen | None = None, *, data_dir: Path | None = None,
                 back_to_setup: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.data_dir = data_dir  # for a member's Data and Predictions tabs
        self.back_to_setup = back_to_setup  # opened from the setup screen, which `n` goes back to
        self.board = board  # read on the worker thread only
        self.variants = list(board.plan.variants)  # frozen: safe to read here
        self.folder = Path(board.folder)
        self.is_comparison = (self.folder / PLAN_FILE).is_file()  # not so for runs trained apart
        self.lesson = lesson_in(self.folder) if self.is_comparison else None  # a lesson's comparison
        self.driver = driver  # the driver process this app started, if it did
        self.driver_rc: int | None = None
        self.stopping = False
        self.curves = "val"  # or "train": which curves the charts show
        self.view: BoardView | None = None
        # MSE on probabilities is ten times smaller than NLL (and cross-entropy, the same): a log scale.
        self.losses_differ = len({v.config.loss == "mse" for v in self.variants}) > 1
        self.closed = threading.Event()
        self.stop_shown: bool | None = None  # whether the footer offers `s` now

    @property
    def driving(self) -> bool:
        """This app started the comparison's driver and it is still going."""
        return self.driver is not None and self.driver_rc is None and self.driver.poll() is None

    def compose(self) -> ComposeResult:
        with Vertical(id="compare"):
            yield CompareHeader("Reading the comparison…", id="compare-header")
            with Horizontal(id="compare-charts"):
                yield CompareChart(id="compare-acc")
                yield CompareChart(id="compare-loss")
                if self.lesson is not None:
                    yield LessonPanel(self.lesson, id="lesson-panel")
            yield Leaderboard(id="leaderboard")
            with VerticalScroll(id="compare-notes"):
                yield Static(id="compare-summary")
        yield FittedFooter()

    def on_mount(self) -> None:
        self.set_class(self.lesson is not None, "-lesson")  # the lesson in the loss chart's place
        self.query_one(Leaderboard).focus()
        self.set_interval(POLL_S, self.check_driver)
        self.follow_board()

    def on_unmount(self) -> None:
        self.closed.set()

    def check_size(self, width: int, height: int) -> None:
        super().check_size(width, height)
        # Narrow: fewer leaderboard columns, shorter titles.
        self.query_one(Leaderboard).set_compact(not self.has_class("-wide"))
        self.show_charts()
        self.show_header()

    # -- the worker ----------------------------------------------------------------------------
    @work(thread=True, exit_on_error=False, group="board")
    def follow_board(self) -> None:
        """Reads the members' new metrics lines; a snapshot reaches the UI when anything changed."""
        worker = get_current_worker()
        ask = self.is_comparison and self.driver is None
        alive, since, first = None, ALIVE_EVERY_S, True
        while not worker.is_cancelled and not self.closed.is_set():
            changed = self.board.update()
            since += POLL_S
            if ask and since >= ALIVE_EVERY_S:
                since = 0.0
                now = driver_alive(self.folder)
                changed |= now != alive
                alive = now
            if changed or first:
                first = False
                self.post_message(BoardChanged(snapshot(self.board, alive, lesson=self.lesson is not None)))
            self.closed.wait(POLL_S)

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.notify(escape(f"Reading the comparison failed: {event.worker.error}"), severity="error", timeout=30)

    def on_board_changed(self, message: BoardChanged) -> None:
        self.view = message.view
        if self.driver is None and not self.trained_now:
            self.stopping = False  # the other process has gone; a new one would start afresh
        self.query_one(Leaderboard).show(self.view.rows)
        self.show_charts()
        self.query_one("#compare-summary", Static).update(notes_markup(message.view))
        if self.lesson is not None:
            self.query_one(LessonPanel).show(message.view.answer)
        self.show_header()
        self.refresh_keys()

    def refresh_keys(self) -> None:
        """The footer follows whether `s` can stop anything; redrawing it costs, so only then."""
        state = self.check_action("stop", ())
        if state != self.stop_shown:
            self.stop_shown = state
            self.refresh_bindings()

    # -- what it shows ---------------------------------------------------------------------------
    def show_charts(self) -> None:
        if self.view is None:
            return
        wide = self.has_class("-wide")
        for chart_id, what in (("#compare-acc", "accuracy"), ("#compare-loss", "loss")):
            log = what == "loss" and self.losses_differ
            title, curves, percent = chart_title(self.view, self.curves, what, log, wide)
            self.query_one(chart_id, CompareChart).show(title, curves, log, not wide, percent)

    @property
    def trained_now(self) -> bool:
        """Someone (this app's driver, or a `compare` elsewhere) is training the comparison."""
        return self.driving or (self.driver is None and self.view is not None and bool(self.view.driver_alive))

    def comparison_state(self) -> ComparisonState:
        return comparison_state(self.view, trained_now=self.trained_now, stopping=self.stopping,
                                driver_here=self.driver is not None)  # fmt: skip

    def show_header(self) -> None:
        if self.view is not None:
            self.query_one(CompareHeader).show(self.view, self.comparison_state(), driver_here=self.driver is not None,
                                               curves=self.curves, width=self.size.width - 2)  # fmt: skip

    # -- the driver this app started ------------------------------------------------------------------
    def check_driver(self) -> None:
        if self.driver is None or self.driver_rc is not None:
            return
        rc = self.driver.poll()
        if rc is None:
            return
        self.driver_rc = rc
        title, message, severity = driver_outcome(self.folder, rc, self.stopping)
        self.notify(escape(message), title=title, severity=severity, timeout=30 if rc else 12)
        self.show_header()
        self.refresh_keys()

    # -- actions -------------------------------------------------------------------------------
    def check_action(self, action: str, parameters) -> bool | None:
        if action == "stop":
            # Runs trained apart have nothing to stop; nor has a comparison nobody trains now.
            return self.is_comparison and self.trained_now and not self.stopping
        if action == "new":
            return self.back_to_setup
        if action == "toggle_lesson":
            return self.lesson is not None
        if action == "pick_seed":
            return self.board.plan.seeds > 1  # the plan is fixed: safe to read here
        return True

    @on(DataTable.RowSelected, "#leaderboard")
    def row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        row = self.query_one(Leaderboard).selected
        if row is not None:
            self.open_member(row, row.pick())

    def action_pick_seed(self) -> None:
        row = self.query_one(Leaderboard).selected
        if row is None:
            return
        if len(row.members) == 1:
            self.open_member(row, row.members[0])
            return
        members = list(row.members)
        default = members.index(row.pick())

        def chosen(index: int | None) -> None:
            if index is not None:
                self.open_member(row, members[index])

        title = f"[b]{escape(row.name)}[/]: which run?"
        self.app.push_screen(PickDialog(title, [escape(m.line) for m in members], default), chosen)

    def open_member(self, row: RowView, member: MemberView) -> None:
        path = Path(member.path)
        if not (path / METRICS_FILE).is_file():
            self.notify(f"{row.name}, seed {member.seed} has not started yet.", severity="warning")
            return
        variant = self.variants[row.index]
        config = build_config({"seed": member.seed}, base=variant.config)
        tab = self.lesson.tab if self.lesson is not None else "charts"  # where the lesson says to look
        self.app.push_screen(MemberScreen(config, variant.preset, path, data_dir=self.data_dir, tab=tab))

    def action_toggle_legend(self) -> None:
        for chart in self.query(CompareChart):
            chart.show_legend = not chart.show_legend
            chart.refresh()

    def action_toggle_lesson(self) -> None:
        self.toggle_class("-lesson")

    def action_toggle_curves(self) -> None:
        self.curves = "train" if self.curves == "val" else "val"
        self.show_charts()
        self.show_header()

    def action_stop(self) -> None:
        if not self.check_action("stop", ()):
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.stop_now()

        question = ("Stop the comparison? Its runs in progress save their last checkpoint and no more start; "
                    f"finish it later with:\n  mlp-tui compare --resume {self.folder}")  # fmt: skip
        self.app.push_screen(ConfirmDialog(escape(question), "Stop all"), answer)

    def stop_now(self) -> None:
        request_stop(self.folder)
        self.stopping = True
        self.show_header()
        self.refresh_keys()

    def action_new(self) -> None:
        self.post_message(self.NewSetup(self))

    def system_commands(self) -> Iterator[SystemCommand]:
        yield from super().system_commands()
        yield SystemCommand("Stop comparison", "Stop every run of the comparison (saved)", self.action_stop)
        yield SystemCommand("Training / validation curves", "Toggle which curves the charts show",
                            self.action_toggle_curves)  # fmt: skip

    def picture_folder(self) -> Path | None:
        return self.folder if self.is_comparison else None  # runs trained apart have no folder of their own
