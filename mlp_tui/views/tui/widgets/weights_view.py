"""What the first layer learned: each hidden unit's 784 incoming weights as a 28x28 picture
(blue positive, red negative, each picture scaled by its own largest |w|, or all by the page's),
as many as fit, paged with `,` and `.` (or PgUp/PgDn, the mouse wheel). A model with no hidden
layer shows its ten class templates instead. Units the run found dead are dimmed and labelled.

The weights come from the run's newest checkpoint (runs/weights.py), read on a worker thread
(torch is imported there, never on the UI thread) when told an epoch ended; the lines of a page
are built on a worker thread too, so the UI thread only hands out ready strips.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from rich.segment import Segment
from rich.style import Style
from textual import events, work
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from ....render import PICTURE_GAP, SIDE, WEIGHT_LEGEND_PLAIN, weight_grid_runs
from .checkpoint_follower import CheckpointFollower

HEADER = 2  # lines above the pictures
PICTURE_LINES = SIDE // 2 + 1  # 14 lines of half blocks and the label


class WeightsView(CheckpointFollower, Widget, can_focus=True):
    DEFAULT_CSS = """
    WeightsView { width: 1fr; height: 1fr; padding: 0 1; }
    WeightsView:focus { background-tint: $foreground 3%; }
    """
    BINDINGS = [
        Binding("full_stop,pagedown", "page(1)", "Next units", key_display="."),
        Binding("comma,pageup", "page(-1)", "Prev units", key_display=","),
        Binding("home", "page_to(0)", "First", show=False),
        Binding("u", "toggle_scale", "Scale per unit/page"),
    ]

    reading_note = "Reading the weights of {name} …"
    waiting_note = "No checkpoint yet: the weights appear when the first epoch ends."
    failure = "cannot read the weights"

    class Drawn(Message):
        def __init__(self, key: tuple, strips: list[Strip]) -> None:
            super().__init__()
            self.key, self.strips = key, strips

    def __init__(self, run_dir: str | Path | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.follow(run_dir)
        self.first_layer = None  # runs.weights.FirstLayer, once read
        self.notice = "No run yet: the first layer's weights appear when its first epoch ends."
        self.first = 0  # the first picture of the page shown
        self.per_picture = True  # scale each picture by its own largest |w|
        self.strips: list[Strip] = []
        self._drawn_key: tuple | None = None
        self._wanted_key: tuple | None = None
        self._version = 0  # counts the layers read, so a page knows which one it shows

    # -- what the follower reads and shows ------------------------------------------------------
    @property
    def current(self):
        return self.first_layer

    def forget(self) -> None:
        self.first_layer, self.first = None, 0

    def read_checkpoint(self, run_dir: Path, path: Path):
        from ....runs.weights import read_first_layer

        return read_first_layer(run_dir, path)

    def show_note(self, text: str) -> None:
        self.notice = text
        self._draw()

    def show_value(self, layer) -> None:
        self.first_layer = layer
        self._version += 1
        self.first = min(self.first, max(0, self.first_layer.count - 1))
        self._draw()

    def page_by(self, delta: int) -> None:
        """Next (1) or previous (-1) page; the screen may bind keys to this."""
        per_page = self.per_page
        count = self.first_layer.count if self.first_layer else 0
        if not count:
            return
        pages = -(-count // per_page)
        page = (self.first // per_page + delta) % pages
        self.first = page * per_page
        self._draw()

    # -- actions --------------------------------------------------------------------------------
    def action_page(self, delta: int) -> None:
        self.page_by(delta)

    def action_page_to(self, index: int) -> None:
        self.first = index
        self._draw()

    def action_toggle_scale(self) -> None:
        self.per_picture = not self.per_picture
        self._draw()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.page_by(1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.page_by(-1)

    # -- drawing ----------------------------------------------------------------------------------
    def on_resize(self) -> None:
        self._draw()

    @property
    def per_row(self) -> int:
        return max(1, (self.content_size.width + PICTURE_GAP) // (SIDE + PICTURE_GAP))

    @property
    def per_page(self) -> int:
        rows = max(1, (self.content_size.height - HEADER) // PICTURE_LINES)
        return self.per_row * rows

    def _draw(self) -> None:
        """Build the page's lines on a worker thread (tens of ms of Python for a full page)."""
        if not self.is_mounted:
            return
        width = self.content_size.width
        if width <= 0:
            return
        layer, per_page = self.first_layer, self.per_page
        if layer is not None:
            self.first -= self.first % per_page
        key = (self._version, self.first, per_page, width, self.per_picture, self.app.no_color, self.notice)
        if key == self._drawn_key or key == self._wanted_key:
            return
        self._wanted_key = key
        self._build(key, (layer, self.notice, self.first, width, per_page, self.per_picture, self.rich_style,
                          not self.app.no_color))  # fmt: skip

    @work(thread=True, exclusive=True, group="weights-draw", exit_on_error=False)
    def _build(self, key: tuple, args: tuple) -> None:
        try:
            strips = page_strips(*args)
        except Exception as exc:  # a view must not take the app down: say what happened
            strips = [_plain(f"cannot draw the weights: {type(exc).__name__}: {exc}", args[3], args[6])]
        self.post_message(self.Drawn(key, strips))

    def on_weights_view_drawn(self, message: Drawn) -> None:
        message.stop()
        if message.key != self._wanted_key:
            return  # a page no longer wanted (built late)
        self.strips, self._drawn_key = message.strips, message.key
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        if y < len(self.strips):
            strip = self.strips[y]
            return strip if strip.cell_length == width else strip.crop_extend(0, width, self.rich_style)
        return Strip.blank(width, self.rich_style)


def page_strips(
    layer, message: str, first: int, width: int, per_page: int, per_picture: bool, base: Style, colour: bool
) -> list[Strip]:
    """The lines of one page: a header of two lines, then the pictures and their labels."""
    if layer is None:
        return [_plain(line, width, base) for line in textwrap.wrap(message, max(10, width))]
    pictures = layer.pictures(first, first + per_page)
    pages = -(-layer.count // per_page)
    last = first + len(pictures) - 1
    what = "class templates" if layer.templates else "units"
    arch = "-".join(str(w) for w in layer.widths)
    top = (f"{layer.checkpoint.name} · epoch {layer.epoch} · {arch} · {what} {first}-{last} of {layer.count}"
           f" · page {first // per_page + 1}/{pages}")  # fmt: skip
    if layer.templates:
        top += " · no hidden layer: the output layer's weights"
    legend = "blue +, red -" if colour else WEIGHT_LEGEND_PLAIN
    second = f"{legend} · scaled by {'each picture' if per_picture else 'the page'}'s max |w|"
    if not layer.templates:
        dead = layer.dead
        if dead is None:
            second += " · dead units: not measured"
        else:
            second += f" · dead units: {len(dead) or 'none'} (epoch {layer.dead_epoch})"
    strips = [_plain(top, width, base, bold=True), _plain(second, width, base)]
    for runs in weight_grid_runs(pictures, width, colour=colour, per_picture=per_picture):
        segments = [Segment(text, base + Style.parse(style) if style else base) for text, style in runs]
        strips.append(Strip(segments).adjust_cell_length(width, base))
    return strips


def _plain(text: str, width: int, base: Style, bold: bool = False) -> Strip:
    style = base + Style(bold=True) if bold else base
    return Strip([Segment(text, style)]).crop_extend(0, width, base)
