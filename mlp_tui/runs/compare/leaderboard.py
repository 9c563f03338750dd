"""The leaderboard as text: a plain table for logs, leaderboard.md and leaderboard.csv (written
atomically into the comparison directory after every finished member)."""

from __future__ import annotations

import csv
import io
import shlex
from typing import TYPE_CHECKING, Any

from mlp_tui.core.errors import DiskFullError
from mlp_tui.runs.compare.board import Board, VariantRow
from mlp_tui.runs.compare.plan import LEADERBOARD_CSV, LEADERBOARD_MD
from mlp_tui.runs.store import atomic_write_bytes
from mlp_tui.text.render import counted

if TYPE_CHECKING:
    from rich.table import Table

HEADERS = ("#", "variant", "test acc % (mean ± sd)", "seeds", "best epoch", "time/run", "status", "verdict")


def _seconds(s: float) -> str:
    return "-" if not s else f"{s:.1f} s" if s < 10 else f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


def _cells(row: VariantRow) -> tuple[str, ...]:
    return (
        row.rank_text, row.name, row.accuracy_text(), f"{len(row.accuracies)}/{len(row.members)}", row.best_epoch,
        _seconds(row.seconds), row.status, row.verdict,
    )  # fmt: skip


# A narrow terminal keeps rank, variant, accuracy and verdict; seeds (how many accuracies the mean has) go late.
DROP_FIRST = ("time/run", "best epoch", "seeds", "status")
VERDICT_LEAST = 32  # "not distinguishable with 3 seeds": columns go before a verdict wraps
RIGHT = {0, 2, 3, 4, 5}  # numbers


def table_lines(board: Board, width: int = 10_000) -> list[str]:
    """The leaderboard as plain lines at most `width` wide (a log or a terminal's)."""
    from mlp_tui.text.width import fit_columns, plain_lines

    rows = [_cells(r) for r in board.rows()]

    def build(dropped: list[str], verdict_width: int | None) -> Table:
        return _table(rows, [i for i, h in enumerate(HEADERS) if h not in dropped], verdict_width)

    return plain_lines(fit_columns(build, DROP_FIRST, width, "verdict", VERDICT_LEAST), width)


def _table(rows: list[tuple[str, ...]], shown: list[int], verdict_width: int | None) -> Table:
    from rich.box import Box
    from rich.table import Table
    from rich.text import Text  # a variant's name is not markup

    dashed_head = Box("    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True)  # dashes under the headers
    table = Table(box=dashed_head, show_edge=False, padding=(0, 0, 0, 1), pad_edge=False)
    for i in shown:
        # Only the names may wrap (at spaces): the numbers stay whole, on one line.
        header = HEADERS[i].replace(" (mean", "\n(mean")  # two short lines: the numbers are 12 wide
        table.add_column(header, justify="right" if i in RIGHT else "left", no_wrap=i not in (1, 7),
                         max_width=verdict_width if i == 7 else None)  # fmt: skip
    for row in rows:
        table.add_row(*(Text(row[i]) for i in shown))
    return table


def verdict_note(board: Board) -> str:
    return (f"Verdicts: Welch's t-test of each variant's test accuracies against the leader's; "
            f"a difference with p >= 0.05 is not distinguishable at {counted(board.plan.seeds, 'seed')}.")  # fmt: skip


def markdown(board: Board) -> str:
    plan = board.plan
    lines = [f"# Comparison {board.folder.name}", ""]
    lines += [f"{counted(len(plan.variants), 'variant')} × {counted(plan.seeds, 'seed')}; "
              f"varied: {', '.join(plan.vary) or 'presets'}; {board.finished}/{len(board.states)} runs finished.",
              ""]  # fmt: skip
    lines += [
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---:" if i in (0, 2, 3, 4, 5) else "---" for i in range(len(HEADERS))) + "|",
    ]
    for row in board.rows():
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in _cells(row)) + " |")
    summary = board.summary()
    if summary:
        lines += ["", *[f"- {s}" for s in summary]]
    lines += ["", verdict_note(board), ""]
    return "\n".join(lines)


def csv_text(board: Board) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    keys = list(dict.fromkeys(k for v in board.plan.variants for k in v.settings))
    writer.writerow(["rank", "variant", "preset", *keys, "seeds_finished", "seeds", "test_accuracy_mean",
                     "test_accuracy_sd", "test_accuracies", "best_epoch", "seconds_per_run", "status", "verdict",
                     "p_value_vs_leader", "tied", "identical_to"])  # fmt: skip
    # The rank stays a number (equal for a tie) so that the file sorts; `tied` says "=".
    for row in board.rows():
        variant = row.members[0].member.variant
        settings = [_csv_value(variant.settings.get(k, "")) for k in keys]
        writer.writerow([
            row.rank, row.name, variant.preset, *settings, len(row.accuracies), len(row.members),
            "" if row.mean is None else f"{row.mean:.6f}", "" if row.sd is None else f"{row.sd:.6f}",
            ";".join(f"{a:.6f}" for a in row.accuracies), row.best_epoch, f"{row.seconds:.1f}", row.status,
            row.verdict, "" if row.p_value is None else f"{row.p_value:.4g}", str(row.tied).lower(), row.identical_to,
        ])  # fmt: skip
    return out.getvalue()


def _csv_value(value: Any) -> str:  # a setting's value
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def write_leaderboard(board: Board) -> None:
    """Raises DiskFullError (the driver stops: its members stop saved) saying how to go on."""
    try:
        atomic_write_bytes(board.folder / LEADERBOARD_MD, markdown(board).encode("utf-8"))
        atomic_write_bytes(board.folder / LEADERBOARD_CSV, csv_text(board).encode("utf-8"))
    except DiskFullError as exc:
        fix = "free some space" if exc.space else "make it writable again"
        where = shlex.quote(str(board.folder))
        exc.advice = f"its members stop saved — {fix} and continue with: mlp-tui compare --resume {where}"
        raise
