"""The width printed output is laid out for, and Rich tables as plain lines of that width."""

from __future__ import annotations


def layout_width(least: int = 20) -> int:
    """COLUMNS when set, else the terminal's width, else 80 (a pipe or a log), as Rich decides;
    never under `least`, below which nothing can be laid out at all."""
    import shutil

    return max(least, shutil.get_terminal_size((80, 24)).columns)


def plain_lines(renderable, width: int) -> list[str]:
    """`renderable` as lines of text no wider than `width`: no escape codes, no trailing spaces
    (Rich pads a table's lines to its width, which a log or `| cut` does not want)."""
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False, emoji=False,
                      legacy_windows=False)  # fmt: skip
    console.print(renderable)
    return [line.rstrip() for line in console.file.getvalue().splitlines()]


def fit_columns(build, drop_first: tuple[str, ...], width: int, shrink: str, least: int, floor: int | None = None):
    """The table `build(dropped, shrink_width)` makes, at most `width` wide (unless the columns that
    are never dropped alone are wider). The columns named in `drop_first` go in turn while even
    column `shrink` cut to `least` leaves it too wide; then `shrink` takes the room left. Rich
    measures; it cannot choose which columns matter. `shrink` itself goes (if listed) only when
    even `floor` characters of it do not fit."""
    dropped: list[str] = []
    for name in drop_first:
        if _measure(build(dropped, floor if name == shrink and floor else least)) <= width:
            break
        dropped.append(name)
    if shrink in dropped:
        return build(dropped, None)
    return build(dropped, width - _measure(build(dropped, 1)) + 1)  # what a 1-wide `shrink` leaves it


def _measure(renderable) -> int:
    from rich.console import Console
    from rich.measure import Measurement

    console = Console(width=10_000)
    return Measurement.get(console, console.options, renderable).maximum
