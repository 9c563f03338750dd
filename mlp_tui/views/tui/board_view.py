"""A comparison as the compare screen shows it: plain, frozen data taken from a Board.

The board is read on a worker thread; what reaches the UI thread is this snapshot, so the
screen never touches the board's member states while the worker is updating them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape

from mlp_tui.runs.compare.answer import answer_lines
from mlp_tui.runs.compare.board import RUNNING, Board, MemberState, VariantRow
from mlp_tui.runs.compare.leaderboard import verdict_note
from mlp_tui.runs.compare.plan import PLAN_FILE
from mlp_tui.runs.compare.stats import mean
from mlp_tui.text.render import counted

# What a chart can show: (the Point field, its title, in percent).
METRICS = {
    "val_accuracy": ("validation accuracy %", True),
    "val_loss": ("validation loss", False),
    "train_accuracy": ("training accuracy %", True),
    "train_loss": ("training loss", False),
}


@dataclass(frozen=True)
class Curve:
    """One variant on one chart: at each epoch the mean over the seeds that reached it, and the
    lowest and highest seed (equal to the mean while one seed is there)."""

    index: int  # the variant's place in the grid: its colour
    name: str
    epochs: tuple[int, ...]
    mean: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]


@dataclass(frozen=True)
class MemberView:
    seed: int
    path: str
    status: str
    epochs_done: int
    epochs: int
    test_accuracy: float | None  # only for a member that ended well

    @property
    def running(self) -> bool:
        return self.status in (*RUNNING, "starting")

    @property
    def line(self) -> str:
        """`seed 1 · completed · 3/3 epochs · test 96.00 % · 02-mse-seed1`: a choice of member."""
        acc = "" if self.test_accuracy is None else f" · test {100 * self.test_accuracy:.2f} %"
        return f"seed {self.seed} · {self.status} · {self.epochs_done}/{self.epochs or '?'} epochs{acc} · {self.name}"

    @property
    def name(self) -> str:
        return Path(self.path).name


@dataclass(frozen=True)
class RowView:
    index: int
    name: str
    accuracy: str  # "97.12 ± 0.20"
    best_epoch: str
    seconds: float
    status: str
    progress: float
    verdict: str
    members: tuple[MemberView, ...]
    rank: str = ""  # "3", or "=1" for a tie

    def pick(self) -> MemberView:
        """The member to open: the running one, else the best finished one, else the first."""
        running = [m for m in self.members if m.running]
        if running:
            return running[0]
        finished = [(m.test_accuracy, m) for m in self.members if m.test_accuracy is not None]
        if finished:
            return max(finished, key=lambda scored: scored[0])[1]
        return self.members[0]


@dataclass(frozen=True)
class BoardView:
    title: str  # the comparison directory's name, or what the runs are
    is_comparison: bool  # a directory with compare.toml: it can be stopped and resumed
    folder: str
    variants: int
    seeds: int
    vary: tuple[str, ...]
    total: int
    finished: int  # ended well, with a test accuracy
    ended: int  # ended in any way
    running: int
    rows: tuple[RowView, ...]  # ranked
    curves: dict[str, tuple[Curve, ...]]  # by metric (METRICS), in grid order
    summary: tuple[str, ...]
    note: str
    driver_alive: bool | None = None  # someone runs the pool (None: not asked)
    answer: tuple[str, ...] = ()  # a lesson's answer as measured so far (runs/compare/answer.py)

    @property
    def complete(self) -> bool:
        return self.ended == self.total

    @property
    def grid_text(self) -> str:
        return f"{counted(self.variants, 'variant')} × {counted(self.seeds, 'seed')}"


def _member(state: MemberState) -> MemberView:
    return MemberView(
        state.member.seed, str(state.member.path), state.status, state.epochs_done, state.epochs,
        state.test_accuracy if state.finished else None,
    )  # fmt: skip


def _row(row: VariantRow) -> RowView:
    members = tuple(_member(m) for m in row.members)
    return RowView(
        row.index, row.name, row.accuracy_text(), row.best_epoch, row.seconds, row.status, row.progress,
        row.verdict, members, row.rank_text,
    )  # fmt: skip


def _curve(index: int, name: str, members: list[MemberState], metric: str, percent: bool) -> Curve:
    by_epoch: dict[int, list[float]] = {}
    for state in members:
        for point in state.curve:
            value = getattr(point, metric)
            if value is not None:
                by_epoch.setdefault(point.epoch, []).append(value * 100 if percent else value)
    epochs = tuple(sorted(by_epoch))
    return Curve(
        index, name, epochs,
        tuple(mean(by_epoch[e]) for e in epochs),
        tuple(min(by_epoch[e]) for e in epochs),
        tuple(max(by_epoch[e]) for e in epochs),
    )  # fmt: skip


def snapshot(board: Board, driver_alive: bool | None = None, *, lesson: bool = False) -> BoardView:
    """Everything the compare screen shows, computed from the board (on the worker thread);
    `lesson`: the comparison is a lesson's, whose answer it shows."""
    plan, states = board.plan, board.states
    rows = board.rows()
    by_index = sorted(rows, key=lambda r: r.index)
    curves = {
        metric: tuple(_curve(r.index, r.name, r.members, metric, percent) for r in by_index)
        for metric, (_, percent) in METRICS.items()
    }
    is_comparison = (board.folder / PLAN_FILE).is_file()
    return BoardView(
        title=board.folder.name if is_comparison else (plan.description or "runs side by side"),
        is_comparison=is_comparison,
        folder=str(board.folder),
        variants=len(plan.variants),
        seeds=plan.seeds,
        vary=tuple(plan.vary),
        total=len(states),
        finished=board.finished,
        ended=board.done,
        running=sum(1 for s in states if s.status in (*RUNNING, "starting")),
        rows=tuple(_row(r) for r in rows),
        curves=curves,
        summary=tuple(board.summary()),
        note=verdict_note(board),
        driver_alive=driver_alive,
        answer=tuple(answer_lines(board)) if lesson else (),
    )


def chart_title(view: BoardView, curves: str, what: str, log: bool, wide: bool) -> tuple[str, tuple[Curve, ...], bool]:
    """A compare chart's title, curves and whether in percent: `curves` ("val" or "train") of
    `what` ("accuracy" or "loss"), saying when there is no validation split or the scale is log."""
    metric = f"{curves}_{what}"
    title, percent = METRICS[metric]
    shown = view.curves[metric]
    trained = any(c.epochs for c in view.curves[f"train_{what}"])
    if curves == "val" and trained and not any(c.epochs for c in shown):
        title += " (none: no validation split; t: training)"
    if log:
        title += " (log scale: the losses differ)" if wide else " (log scale)"
    return title, shown, percent


def notes_markup(view: BoardView) -> str:
    """The verdicts in words under the leaderboard, and how they are reached."""
    lines = [f"• {escape(line)}" for line in view.summary]
    if not view.finished:
        lines.append("[dim]The verdicts come when runs finish.[/]")
    lines.append(f"[dim]{escape(view.note)}[/]")
    return "\n".join(lines)
