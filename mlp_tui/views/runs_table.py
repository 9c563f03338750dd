"""The `mlp-tui runs` table: one row per run directory, plain in a pipe, Rich on a terminal."""

from __future__ import annotations

from pathlib import Path


def run_rows(root: Path) -> list[tuple[str, ...]]:
    """One row of text per run under root, and one per comparison, newest first."""
    rows = [(row[-1], row) for row in _single_rows(root)] + comparison_rows(root)
    return [row[:-1] + (_when(row[-1]),) for _, row in sorted(rows, key=lambda r: r[0] or 0.0, reverse=True)]


def _when(started: float | None) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(started)) if started else "-"


def comparison_rows(root: Path) -> list[tuple[float, tuple]]:
    """A comparison as one line: its progress in runs and the leader's test accuracy."""
    from ..runs.compare.board import Board
    from ..runs.compare.plan import PLAN_FILE, find_comparisons, read_plan
    from ..runs.compare.pool import driver_alive

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
            status = "completed"
        else:
            status = "stopped" if any(s.status != "pending" for s in board.states) else "pending"
        leader = next((r for r in board.rows() if r.mean is not None), None)
        what = f"compare {len(board.plan.variants)}×{board.plan.seeds}: " + ", ".join(board.plan.vary or ["presets"])
        rows.append((started, (folder.name, _cut(what, 34), status, f"{finished}/{total} runs", "-",
                               leader.accuracy_text(1) if leader else "-", "-", started)))  # fmt: skip
    return rows


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _single_rows(root: Path) -> list[tuple]:
    from ..report import pct
    from ..runs.status import RunSummary, find_runs, summarize

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
STATUS_STYLE = {"completed": "green", "early-stopped": "green", "running": "cyan", "paused": "yellow",
                 "stale": "yellow", "died": "red", "failed": "red", "unreadable": "red"}  # fmt: skip


def print_plain(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]

    def line(cells) -> str:
        return "  ".join(c.rjust(w) if i in RIGHT else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    print(line(HEADERS).rstrip())
    for row in rows:
        print(line(row).rstrip())


def print_rich(rows: list[tuple[str, ...]], root: Path) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text  # cells as Text: a "[" in a run's name is not markup

    # One space between columns: the usual row (a 20-character id, a time) fits 80 columns.
    table = Table(title=Text(f"Runs in {root}"), title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  padding=0)  # fmt: skip
    for i, header in enumerate(HEADERS):
        # Only the id may fold onto a second line when the terminal is narrow; the rest stay whole.
        table.add_column(header, justify="right" if i in RIGHT else "left", no_wrap=i != 0, overflow="fold")
    for row in rows:
        cells = [Text(cell) for cell in row]
        cells[2].stylize(STATUS_STYLE.get(row[2], ""))
        table.add_row(*cells)
    Console().print(table)
