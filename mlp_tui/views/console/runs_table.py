"""The `mlp-tui runs` table: one row per run directory, plain in a pipe, Rich on a terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlp_tui.core.events import EndStatus


def run_rows(root: Path) -> list[tuple[str, ...]]:
    """One row of text per run under root, and one per comparison, newest first."""
    rows = [(row[-1], row) for row in _single_rows(root)] + comparison_rows(root)
    return [(*row[:-1], _when(row[-1])) for _, row in sorted(rows, key=lambda r: r[0] or 0.0, reverse=True)]


def _when(started: float | None) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(started)) if started else "-"


def comparison_rows(root: Path) -> list[tuple[float, tuple]]:
    """A comparison as one line: its progress in runs and the leader's test accuracy."""
    from mlp_tui.runs.compare.board import Board
    from mlp_tui.runs.compare.folder import driver_alive
    from mlp_tui.runs.compare.plan import PLAN_FILE, find_comparisons, read_plan

    rows = []
    for folder in find_comparisons(root):
        started = (folder / PLAN_FILE).stat().st_mtime
        try:
            board = Board(read_plan(folder / PLAN_FILE), folder)
            board.update()
        except (OSError, ValueError, KeyError, TypeError):
            rows.append((started, (folder.name, "comparison", "unreadable", "-", "-", "-", "-", started)))
            continue
        total, finished = len(board.states), board.finished
        if driver_alive(folder):
            status = "running"
        elif finished == total:
            status = EndStatus.COMPLETED
        else:
            status = EndStatus.STOPPED if any(s.status != "pending" for s in board.states) else "pending"
        leader = next((r for r in board.rows() if r.mean is not None), None)
        what = f"compare {len(board.plan.variants)}×{board.plan.seeds}: " + ", ".join(board.plan.vary or ["presets"])
        rows.append((started, (folder.name, _cut(what, 34), status, f"{finished}/{total} runs", "-",
                               leader.accuracy_text(1) if leader else "-", "-", started)))  # fmt: skip
    return rows


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _single_rows(root: Path) -> list[tuple]:
    from mlp_tui.runs.status import RunSummary, find_runs, summarize
    from mlp_tui.text.report import pct

    summaries = []
    for path in find_runs(root):
        try:
            summaries.append(summarize(path))
        except (OSError, ValueError, KeyError, TypeError):  # a damaged metrics.jsonl: still listed
            summaries.append(RunSummary(path=path, preset="?", status="unreadable", epochs_done=0, epochs=0,
                                        best_val_accuracy=None, test_accuracy=None, started=None))  # fmt: skip

    def acc(x: float | None) -> str:
        return "-" if x is None else pct(x)  # as the run's own report writes it

    return [
        (
            s.id,
            s.preset if s.dataset == "mnist" else f"{s.preset} on {s.dataset}",  # MNIST goes without saying
            s.status,
            f"{s.epochs_done}/{s.epochs}" if s.epochs else str(s.epochs_done),
            acc(s.best_val_accuracy),
            acc(s.test_accuracy),
            threads_cell(s.device),
            s.started,
        )
        for s in summaries
    ]


def threads_cell(device: str | None) -> str:
    """`2`, `1 auto`, `1 auto (epoch 3+)` (the count `--threads auto` chose, and since when) from
    the run's device label; a GPU run says which kind of device instead."""
    import re

    found = re.match(r"CPU \((\d+) threads?(, auto)?(?: since epoch (\d+))?\)", device or "")
    if not found:
        return "-" if not device else device.split()[0]
    count, auto, since = found.groups()
    return count + (" auto" if auto else "") + (f" (epoch {since}+)" if since else "")


HEADERS = ("id", "preset", "status", "epochs", "best val", "test", "threads", "started")
RIGHT = {3, 4, 5}  # columns aligned right: numbers
STATUS_STYLE = {EndStatus.COMPLETED: "green", EndStatus.EARLY_STOPPED: "green", "running": "cyan", "paused": "yellow",
                 "stale": "yellow", "died": "red", "failed": "red", "unreadable": "red"}  # fmt: skip


DROP_FIRST = ("threads", "started", "best val", "epochs", "preset")  # a narrow terminal loses these first
PRESET_LEAST = 22  # "tiny on fashion-mnist" whole: the preset is cut no shorter while a column can go
PRESET_FLOOR = 8  # shorter than this, a cut preset says nothing: the column goes


def runs_table(rows: list[tuple[str, ...]], width: int, title: str | None = None):
    """The table at most `width` wide. The id, status and test accuracy always stay: they are
    what `eval`, `predict` and `watch` need; the others go in the order of DROP_FIRST."""
    from mlp_tui.text.width import fit_columns

    def build(dropped: list[str], preset_width: int | None):
        return _table(rows, [i for i, h in enumerate(HEADERS) if h not in dropped], title, preset_width)

    return fit_columns(build, DROP_FIRST, width, "preset", PRESET_LEAST, PRESET_FLOOR)


def _table(rows, shown: list[int], title: str | None, preset_width: int | None = None):
    """Plain columns two spaces apart for a pipe; with a title (a terminal), Rich's simple box."""
    from rich import box
    from rich.table import Table
    from rich.text import Text  # cells as Text: a "[" in a run's name is not markup

    look: dict[str, Any] = (
        {"title": Text(title), "title_justify": "left", "box": box.SIMPLE_HEAD, "padding": 0}
        if title
        else {"box": None, "padding": (0, 1), "pad_edge": False}
    )
    table = Table(show_edge=False, **look)
    for i in shown:
        # The id may fold onto a second line in a very narrow terminal, but is never cut.
        table.add_column(HEADERS[i], justify="right" if i in RIGHT else "left", no_wrap=i != 0,
                         overflow="fold" if i == 0 else "ellipsis",
                         max_width=preset_width if i == 1 else None)  # fmt: skip
    for row in rows:
        cells = [Text(row[i]) for i in shown]
        if title:
            cells[shown.index(2)].stylize(STATUS_STYLE.get(row[2], ""))
        table.add_row(*cells)
    return table


def print_table(rows: list[tuple[str, ...]], root: Path, terminal: bool) -> None:
    """On a terminal Rich's table with colours; in a pipe plain lines; both fit layout_width()."""
    from mlp_tui.text.width import layout_width, plain_lines

    width = layout_width()
    if not terminal:
        print("\n".join(plain_lines(runs_table(rows, width), width)))
        return
    from rich.console import Console

    Console(width=width).print(runs_table(rows, width, f"Runs in {root}"))
