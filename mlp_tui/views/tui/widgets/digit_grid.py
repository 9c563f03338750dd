"""A page of digits, as many as the widget fits, each with its caption lines and, on demand (`b`),
its class probabilities as bars beside it; paged with `.` and `,` (PgDn/PgUp, the mouse wheel).
The Data, Predictions and Mistakes views are this grid over different sources.

A page's lines are built on a worker thread from a uint8 tensor of the page's images
(views/digit_art.py: vectorised, no loop over pixels), so keys never wait for a page; the UI
thread only hands out ready strips. Grey half blocks on a colour terminal; the plain characters
of `mlp-tui data` without colour (NO_COLOR), an ASCII ramp where block characters are missing.
"""

from __future__ import annotations

import gc
import sys
import textwrap
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.strip import Strip

from mlp_tui.text.render import SIDE, wants_ascii
from mlp_tui.views.tui.widgets.paged_view import PagedView, plain_strip

HEADER = 1  # lines above the digits
ART_LINES = SIDE // 2  # as views/digit_art.py has it (not imported here: it loads torch)


class GridSource:
    """What a grid shows: `count` images, read a page at a time on the worker thread. Immutable
    once given to the grid (a change is a new source)."""

    count = 0
    caption_lines = 1
    classes: tuple[str, ...] = ()
    has_bars = False  # whether it has probabilities to show as bars

    def images(self, start: int, stop: int) -> Any:
        """The page's images: a (n, 784) uint8 tensor or a sequence of 784-byte strings."""
        raise NotImplementedError

    def captions(self, start: int, stop: int, ascii: bool) -> list[list[list[tuple[str, str]]]]:
        """Per image, its caption lines, each a list of (text, style) runs."""
        raise NotImplementedError

    def bars(self, start: int, stop: int, colour: bool, ascii: bool) -> list[list[list[tuple[str, str]]]]:
        """Per image, its probability bars (digit_art.bar_lines)."""
        raise NotImplementedError

    def header(self) -> str:
        """The line above the pages: what they show."""
        raise NotImplementedError

    def empty_text(self) -> str:
        """What to say when there is nothing to show."""
        return "Nothing to show."


class DigitGrid(PagedView):
    DEFAULT_CSS = """
    DigitGrid { width: 1fr; height: 1fr; padding: 0 1; }
    DigitGrid:focus { background-tint: $foreground 3%; }
    """
    BINDINGS = [
        Binding("full_stop,pagedown", "page(1)", "Next", key_display=".", tooltip="Next page (, the previous)"),
        Binding("comma,pageup", "page(-1)", "Prev", key_display=",", show=False),  # room in the footer for ctrl+s
        Binding("home", "page_to(0)", "First page", show=False),
        Binding("b", "toggle_bars", "Bars"),
    ]

    def __init__(self, notice: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.source: GridSource | None = None
        self.notice = notice  # shown while there is no source
        self.bars = False
        self.ascii = wants_ascii(sys.__stdout__)  # the terminal's, not Textual's capture of stdout

    # -- what the owner calls -------------------------------------------------------------------
    def set_source(self, source: GridSource | None, *, keep_page: bool = False) -> None:
        self.source = source
        self.shown_anew()
        count = source.count if source is not None else 0
        self.first = min(self.first, max(0, count - 1)) if keep_page else 0
        if self.is_mounted:
            self.refresh_bindings()  # `b` is offered only with probabilities to show
        self.redraw()

    def show_note(self, text: str) -> None:
        """What to say while there is no source."""
        self.notice = text
        self.redraw()

    @property
    def page_items(self) -> range:
        """The positions in the source of the images on the page shown (or being drawn)."""
        count = self.count
        return range(min(self.first, count), min(self.first + self.per_page, count))

    # -- actions --------------------------------------------------------------------------------
    def action_toggle_bars(self) -> None:
        if self.source is not None and self.source.has_bars:
            self.bars = not self.bars
            self.redraw()

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "toggle_bars":
            return self.source is not None and self.source.has_bars
        return True

    # -- layout -----------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return self.source.count if self.source else 0

    def cell_size(self) -> tuple[int, int]:
        """(columns, lines) of one digit with its caption (and bars)."""
        from mlp_tui.views.console.digit_art import bars_width

        source = self.source
        side = 1 + bars_width(source.classes) if (self.bars and source is not None and source.has_bars) else 0
        return SIDE + side, ART_LINES + (source.caption_lines if source else 1)

    @property
    def per_row(self) -> int:
        from mlp_tui.views.console.digit_art import cells_per_row

        return cells_per_row(self.content_size.width, self.cell_size()[0])

    @property
    def per_page(self) -> int:
        rows = max(1, (self.content_size.height - HEADER) // self.cell_size()[1])
        return self.per_row * rows

    # -- drawing ----------------------------------------------------------------------------------
    def on_show(self) -> None:
        self.redraw()

    def page_request(self, width: int):
        source, notice, first, per_page, per_row = self.source, self.notice, self.first, self.per_page, self.per_row
        colour, ascii, base = not self.app.no_color, self.ascii, self.rich_style
        bars = self.bars and source is not None and source.has_bars
        return (per_page, self.bars, colour, notice), lambda: page_strips(
            source, notice, first, width, per_page, per_row, bars, colour, ascii, base
        )

    def page_built(self) -> None:
        settle_heap()


def page_strips(
    source: GridSource | None,
    notice: str,
    first: int,
    width: int,
    per_page: int,
    per_row: int,
    bars: bool,
    colour: bool,
    ascii: bool,
    base: Style,
) -> list[Strip]:
    """The lines of one page: the header, then the digits with their captions."""
    from mlp_tui.views.console.digit_art import bars_width, grid_runs

    if source is None or not source.count:
        text = notice if source is None else source.empty_text()
        return [plain_strip(line, width, base) for line in textwrap.wrap(text, max(10, width))]
    stop = min(first + per_page, source.count)
    pages = -(-source.count // per_page)
    top = f"Page {first // per_page + 1}/{pages} · {source.header()}"  # the gist first: narrow terminals cut the end
    if bars and not colour:
        top += " · bars: < predicted, = true"
    strips = [plain_strip(top, width, base, bold=True)]
    images = source.images(first, stop)
    captions = source.captions(first, stop, ascii)
    side = source.bars(first, stop, colour, ascii) if bars else None
    runs = grid_runs(images, captions, width, colour=colour, ascii=ascii, bars=side,
                     bar_columns=bars_width(source.classes) if bars else None, per_row=per_row)  # fmt: skip
    for line in runs:
        segments = [Segment(text, base + Style.parse(style) if style else base) for text, style in line]
        strips.append(Strip(segments).adjust_cell_length(width, base))
    return strips


_settled = False


def settle_heap() -> None:
    """Once torch is in: move every object there is to the permanent generation (gc.freeze).
    torch brings some 170,000 objects that live as long as the app, and a full garbage collection
    walks them all: 0.1 s or more with the UI thread waiting, and a page's thousands of segments
    set one off every few pages. Frozen, a collection walks only what came after."""
    global _settled
    if not _settled and "torch" in sys.modules:
        _settled = True
        gc.freeze()
