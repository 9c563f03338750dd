"""The `mlp-tui runs` table: one row per run directory, plain in a pipe, Rich on a terminal."""

from __future__ import annotations

from pathlib import Path


def run_rows(root: Path) -> list[tuple[str, ...]]:
    """One row of text per run under root, newest (by start time) first."""
    import time

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
            time.strftime("%Y-%m-%d %H:%M", time.localtime(s.started)) if s.started else "-",
        )
        for s in summaries
    ]


HEADERS = ("id", "preset", "status", "epochs", "best val", "test", "started")
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
