"""What `mlp-tui compare` prints and opens: a comparison trained headless (a line per finished
run, then the leaderboard and what is left to do), and runs trained earlier, side by side."""

from __future__ import annotations

import glob
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from mlp_tui.cli.common import interactive
from mlp_tui.core.config import ConfigError
from mlp_tui.core.errors import EXIT_FAILED, EXIT_OK
from mlp_tui.runs.process import stop_on_signals
from mlp_tui.text.render import counted

if TYPE_CHECKING:
    from mlp_tui.runs.compare.backends import Backend, MemberResult
    from mlp_tui.runs.compare.board import Board
    from mlp_tui.runs.compare.plan import Plan


def run_headless(
    folder: Path, plan: Plan, jobs: int | None, data_dir: Path | None, device: str | None, backend: Backend | None
) -> int:
    """Train the comparison here, a line per finished run, then the leaderboard (and a lesson's
    answer). Ctrl-C stops the members saved; a second one leaves at once. Exit code."""
    from mlp_tui.runs.compare.driver import drive

    stop = threading.Event()
    total = plan.size
    echo = lambda text="": typer.echo(text)  # noqa: E731

    todo_count = [total]

    def started(todo: int, where: str) -> None:
        todo_count[0] = todo
        echo(
            f"mlp-tui compare: {counted(len(plan.variants), 'variant')} × {counted(plan.seeds, 'seed')} = "
            f"{counted(total, 'run')} in {folder}"
        )
        echo("variants: " + "; ".join(v.name for v in plan.variants))
        if todo < total:
            echo(f"{counted(total - todo, 'run')} already finished; {todo} to go")
        if todo:
            echo(f"training {where}")

    finished: list[MemberResult] = []

    def done(result: MemberResult, board: Board) -> None:
        finished.append(result)
        m = result.member
        acc = "" if result.test_accuracy is None else f"  test {100 * result.test_accuracy:.2f} %"
        state = next(s for s in board.states if s.member.path == m.path)
        whole = state.reason == "disk-full"  # what is kept and the command to go on: never cut
        note = f"  ({result.message if whole else result.message[:120]})" if result.message and not result.ok else ""
        echo(f"[{len(finished) + total - todo_count[0]}/{total}] {m.variant.name}  seed {m.seed}  "
             f"{result.status}{acc}  {state.epochs_done} epochs, {state.seconds:.0f} s  "
             f"{m.path.name}{note}")  # fmt: skip

    with stop_on_signals(lambda reason: stop.set()) as received:
        board = drive(folder, plan, backend=backend, jobs=jobs, data_dir=data_dir, device=device, on_start=started,
                      on_done=done, should_stop=stop.is_set, check_data=False, on_note=echo)  # fmt: skip
    echo()
    echo("\n".join(leaderboard_lines(board) + lesson_lines(board, folder)))
    echo(f"Leaderboard: {folder / 'leaderboard.md'} and leaderboard.csv")
    left = _left_over(board, folder)
    for line in left:
        echo(line)
    if received:
        return 128 + received[0]
    return EXIT_FAILED if left else EXIT_OK


def leaderboard_lines(board: Board) -> list[str]:
    """The table, what it says in words and how the verdicts are reached, fitted to the width."""
    import textwrap

    from mlp_tui.runs.compare.leaderboard import table_lines, verdict_note
    from mlp_tui.text.width import layout_width

    width = layout_width()
    notes = [*board.summary(), verdict_note(board)]
    return table_lines(board, width) + [part for note in notes for part in textwrap.wrap(note, width) or [""]]


def lesson_lines(board: Board, folder: Path | None) -> list[str]:
    """A lesson's measured answer and its explanation, when the comparison in `folder` is a lesson's."""
    from mlp_tui.runs.compare.answer import answer_lines
    from mlp_tui.runs.compare.lesson import lesson_in
    from mlp_tui.text.width import layout_width
    from mlp_tui.views.console.lesson_text import lesson_answer_lines

    lesson = None if folder is None else lesson_in(folder)
    return [] if lesson is None else ["", *lesson_answer_lines(answer_lines(board), lesson, layout_width())]


def _left_over(board: Board, folder: Path) -> list[str]:
    """What did not finish and what to do about it. A run a full disk stopped is sound in itself:
    `compare --resume` continues it, unlike one that failed for its own reasons."""
    disk = [s for s in board.states if s.status == "failed" and s.reason == "disk-full"]
    failed = [s for s in board.states if s.status == "failed" and s not in disk]
    unfinished = len(board.states) - board.finished - len(failed)
    lines = []
    if failed:
        lines.append(f"{counted(len(failed), 'run')} failed (see their report.txt or error.log): "
                     f"{', '.join(s.member.path.name for s in failed)}; "
                     "delete their directories to try them again")  # fmt: skip
    if unfinished:
        mend = "free some space, then " if disk else ""
        lines.append(
            f"{counted(unfinished, 'run')} not finished; "
            f"{mend}finish them with: mlp-tui compare --resume {folder} --headless"
        )
    return lines


def show_existing(names: list[str], runs_root: Path, headless: bool) -> int:
    """Runs trained earlier (or a comparison's members), side by side: the leaderboard, or the app."""
    from mlp_tui.runs.compare.board import Board
    from mlp_tui.runs.compare.existing import plan_from_runs
    from mlp_tui.runs.compare.plan import PLAN_FILE
    from mlp_tui.runs.layout import CONFIG_FILE
    from mlp_tui.runs.status import resolve_run

    paths: list[Path] = []
    for name in names:
        if glob.has_magic(name):
            matches = sorted(glob.glob(name)) or sorted(glob.glob(str(runs_root / name)))
            # A glob picks runs and comparisons; other files it matches are not meant
            matches = [m for m in matches if (Path(m) / CONFIG_FILE).is_file() or (Path(m) / PLAN_FILE).is_file()]
        else:
            matches = [name]
        if not matches:
            raise ConfigError(f"{name}: no runs match")
        for match in matches:
            if (Path(match) / PLAN_FILE).is_file():
                from mlp_tui.runs.compare.plan import read_plan

                if len(names) == 1 and len(matches) == 1:
                    plan = read_plan(Path(match) / PLAN_FILE)
                    return _show(Board(plan, Path(match)), Path(match), runs_root, headless)
                paths += [m.path for m in read_plan(Path(match) / PLAN_FILE).members(Path(match)) if m.path.is_dir()]
            else:
                paths.append(resolve_run(match, runs_root))
    paths = list(dict.fromkeys(p.resolve() for p in paths))
    if len(paths) < 2:
        raise ConfigError("give two or more runs to compare (or a comparison directory)")
    plan, members = plan_from_runs(paths)
    return _show(Board(plan, Path("."), members), None, runs_root, headless)


def _show(board: Board, folder: Path | None, runs_root: Path, headless: bool) -> int:
    board.update()
    if headless or not interactive():
        typer.echo("\n".join(leaderboard_lines(board) + lesson_lines(board, folder)))
        return EXIT_OK
    open_board_app(board, runs_root)
    return EXIT_OK


def open_board_app(board: Board, runs_root: Path, drive: dict[str, Any] | None = None) -> None:
    from mlp_tui.views.tui.app import create_app

    create_app(runs_root=runs_root, compare=board, drive=drive).run()
