"""Pages of pictures (the first layer's weights, a grid of digits): `.` and `,` (PgDn/PgUp, the
mouse wheel) page round at the ends, and a page's lines are built on a worker thread (tens of ms
of Python for a full page), so keys never wait; the UI thread only hands out ready strips."""

from __future__ import annotations

from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style
from textual import events, work
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from mlp_tui.views.tui.widgets.fit_text import shorten


def plain_strip(text: str, width: int, base: Style, bold: bool = False) -> Strip:
    style = base + Style(bold=True) if bold else base
    # a header longer than the view ends at a word with an ellipsis, not mid-word
    return Strip([Segment(shorten(text, width), style)]).crop_extend(0, width, base)


class PagedView(Widget, can_focus=True):
    """Subclasses say how many pictures there are (`count`), how many a page holds (`per_page`)
    and what the page shown now depends on and how it is built (`page_request`)."""

    what = "the page"  # named when a page cannot be drawn

    class Drawn(Message):
        def __init__(self, key: tuple, strips: list[Strip]) -> None:
            super().__init__()
            self.key, self.strips = key, strips

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.first = 0  # the first picture of the page shown
        self.strips: list[Strip] = []
        self._drawn_key: tuple | None = None
        self._wanted_key: tuple | None = None
        self._version = 0  # counts what was given to show, so a page knows which one it shows

    # -- what subclasses say ------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return 0

    @property
    def per_page(self) -> int:
        return 1

    def page_request(self, width: int) -> tuple[tuple, Callable[[], list[Strip]]]:
        """What the page to show depends on (besides what is shown, its first picture and the
        width), and a function that builds its lines (called on a worker thread)."""
        raise NotImplementedError

    def page_built(self) -> None:
        """Called on the worker thread after a page is built."""

    # -- paging ---------------------------------------------------------------------------------------
    def page_by(self, delta: int) -> None:
        """Next (1) or previous (-1) page, round at the ends."""
        count, per_page = self.count, self.per_page
        if not count:
            return
        pages = -(-count // per_page)
        self.first = (self.first // per_page + delta) % pages * per_page
        self.redraw()

    def action_page(self, delta: int) -> None:
        self.page_by(delta)

    def action_page_to(self, index: int) -> None:
        self.first = index
        self.redraw()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.page_by(1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.page_by(-1)

    # -- drawing ----------------------------------------------------------------------------------
    def on_resize(self) -> None:
        self.redraw()

    def shown_anew(self) -> None:
        """Something else to show: pages drawn before are not of it."""
        self._version += 1

    def redraw(self) -> None:
        """Build the page now wanted on a worker thread, unless it is drawn or on its way."""
        if not self.is_mounted:
            return
        width = self.content_size.width
        if width <= 0:
            return
        self.first -= self.first % self.per_page
        depends, build = self.page_request(width)
        key = (self._version, self.first, width, *depends)
        if key == self._drawn_key or key == self._wanted_key:
            return
        self._wanted_key = key
        self._build(key, build, width, self.rich_style)

    @work(thread=True, exclusive=True, group="page-draw", exit_on_error=False)
    def _build(self, key: tuple, build: Callable[[], list[Strip]], width: int, base: Style) -> None:
        try:
            strips = build()
        except Exception as exc:  # a view must not take the app down: say what happened
            strips = [plain_strip(f"cannot draw {self.what}: {type(exc).__name__}: {exc}", width, base)]
        self.page_built()
        self.post_message(self.Drawn(key, strips))

    def on_paged_view_drawn(self, message: Drawn) -> None:
        message.stop()
        if message.key != self._wanted_key:
            return  # a page no longer wanted (built late)
        self.strips, self._drawn_key = message.strips, message.key
        self.refresh()

    @property
    def drawn(self) -> bool:
        """The page on screen is the one last asked for (for tests and owners)."""
        return self._drawn_key is not None and self._drawn_key == self._wanted_key

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        if y < len(self.strips):
            strip = self.strips[y]
            return strip if strip.cell_length == width else strip.crop_extend(0, width, self.rich_style)
        return Strip.blank(width, self.rich_style)
