"""Shortening a line that does not fit: cut at a word's end and say so with an ellipsis, never
in the middle of a word (`runs/2026…` reads as a path that exists; `r…` reads as nothing)."""

from __future__ import annotations

import sys

from rich.cells import cell_len, set_cell_size
from rich.text import Text

from mlp_tui.text.render import wants_ascii

# What is left dangling once the words after it are gone.
TRAILING = " ·,;:(-—"


def shortened_length(plain: str, width: int, mark: str) -> int | None:
    """How many characters of `plain` to keep before `mark` so the line fits `width` cells
    (None: it fits as it is)."""
    if cell_len(plain) <= width:
        return None
    kept = set_cell_size(plain, max(0, width - cell_len(mark)))
    if not plain[len(kept)].isspace() and " " in kept.strip():
        kept = kept[: kept.rstrip().rfind(" ")]  # a word was cut: keep only the words before it
    return len(kept.rstrip(TRAILING))


def ellipsis(ascii: bool | None) -> str:
    """The mark, spaced off the last word kept (so `runs/x-tiny …` is not read as a name)."""
    return " ..." if (wants_ascii(sys.__stdout__) if ascii is None else ascii) else " …"


def shorten(line: str, width: int, ascii: bool | None = None) -> str:
    mark = ellipsis(ascii)
    keep = shortened_length(line, width, mark)
    return line if keep is None else line[:keep] + mark


def shorten_text(line: Text, width: int, ascii: bool | None = None) -> Text:
    """The same for styled text: the styles of the words kept stay."""
    mark = ellipsis(ascii)
    keep = shortened_length(line.plain, width, mark)
    if keep is None:
        return line
    short = line[:keep]
    short.append(mark)
    return short
