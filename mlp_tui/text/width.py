"""The width printed output is laid out for, and Rich tables as plain lines of that width."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from rich.console import RenderableType

_Table = TypeVar("_Table", bound="RenderableType")


def layout_width(least: int = 20) -> int:
    """COLUMNS when set, else the terminal's width, else 80 (a pipe or a log), as Rich decides;
    never under `least`, below which nothing can be laid out at all."""
    import shutil

    return max(least, shutil.get_terminal_size((80, 24)).columns)


def plain_lines(renderable: RenderableType, width: int) -> list[str]:
    """`renderable` as lines of text no wider than `width`: no escape codes, no trailing spaces
    (Rich pads a table's lines to its width, which a log or `| cut` does not want)."""
    import io

    from rich.console import Console

    text = io.StringIO()
    console = Console(file=text, width=width, color_system=None, highlight=False, emoji=False,
                      legacy_windows=False)  # fmt: skip
    console.print(renderable)
    return [line.rstrip() for line in text.getvalue().splitlines()]


def fit_columns(
    build: Callable[[list[str], int | None], _Table],
    drop_first: tuple[str, ...],
    width: int,
    shrink: str,
    least: int,
    floor: int | None = None,
) -> _Table:
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


def _measure(renderable: RenderableType) -> int:
    from rich.console import Console
    from rich.measure import Measurement

    console = Console(width=10_000)
    return Measurement.get(console, console.options, renderable).maximum


def fold(line: str, width: int, indent: str = "  ") -> list[str]:
    """A printed line folded to `width`: between its fields (set apart by two spaces), each
    field kept whole, the rest indented under the line's own indent; a field too long alone is
    wrapped at its spaces. A line that fits is left as it is."""
    if len(line) <= width:
        return [line]
    import re
    import textwrap

    body = line.lstrip(" ")
    lead = line[: len(line) - len(body)]
    indent = lead + indent
    lines: list[str] = []
    current = ""
    for field in re.split(r"(?<=\S) {2,}(?=\S)", body):
        joined = f"{current}  {field}" if current else (indent if lines else lead) + field
        if len(joined) <= width or not current:
            current = joined
        else:
            lines.append(current)
            current = indent + field
        if len(current) > width:  # one field alone is too long: wrap it at its spaces
            wrapped = textwrap.wrap(current, width, subsequent_indent=indent, break_long_words=False,
                                    break_on_hyphens=False)  # fmt: skip
            lines += wrapped[:-1]
            current = wrapped[-1]
    return [*lines, current]
