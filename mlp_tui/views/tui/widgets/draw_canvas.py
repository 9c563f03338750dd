"""The 28x28 drawing canvas: painted with the mouse (drag; the right button erases) or the
keyboard (arrows move the cursor, space paints, shift+arrows paint as they move), `c` clears.
Two pixel rows to a terminal cell (half blocks), the ink as greys."""

from __future__ import annotations

import math

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from mlp_tui.text.render import SIDE

# The brush: full ink within about a pixel of the centre, fading out by 2.5 px, like the
# antialiased strokes of MNIST (2-3 px wide once a digit is scaled to its 20 px box).
BRUSH_SIGMA = 0.9
BRUSH_GAIN = 1.3
BRUSH_REACH = 3
STEP_PX = 0.5  # dabs along a stroke, so a fast drag leaves no gaps
CURSOR = (255, 170, 0)
GREYS = 32


def dab(canvas: list[float], row: float, col: float, erase: bool = False) -> None:
    """Paint (or erase) a soft round dab centred at (row, col), pixel coordinates."""
    for r in range(max(0, int(row) - BRUSH_REACH), min(SIDE, int(row) + BRUSH_REACH + 2)):
        for c in range(max(0, int(col) - BRUSH_REACH), min(SIDE, int(col) + BRUSH_REACH + 2)):
            d2 = (r - row) ** 2 + (c - col) ** 2
            ink = min(1.0, BRUSH_GAIN * math.exp(-d2 / (2 * BRUSH_SIGMA**2)))
            if ink < 0.05:
                continue
            i = r * SIDE + c
            canvas[i] = max(0.0, canvas[i] - ink) if erase else max(canvas[i], ink)


def stroke(canvas: list[float], start: tuple[float, float], end: tuple[float, float], erase: bool = False) -> None:
    """Dabs every half pixel from start to end (row, col)."""
    (r0, c0), (r1, c1) = start, end
    steps = max(1, math.ceil(math.hypot(r1 - r0, c1 - c0) / STEP_PX))
    for k in range(steps + 1):
        t = k / steps
        dab(canvas, r0 + (r1 - r0) * t, c0 + (c1 - c0) * t, erase)


class DrawCanvas(Widget, can_focus=True):
    """The 28x28 canvas: 28 columns x 14 lines of half blocks, two pixel rows per line."""

    DEFAULT_CSS = """
    DrawCanvas { width: 30; height: 16; border: round $primary; }
    DrawCanvas:focus { border: round $accent; }
    """
    BINDINGS = [
        Binding("up", "move(-1, 0)", "Up", show=False),
        Binding("down", "move(1, 0)", "Down", show=False),
        Binding("left", "move(0, -1)", "Left", show=False),
        Binding("right", "move(0, 1)", "Right", show=False),
        Binding("shift+up", "move(-1, 0, True)", "Paint up", show=False),
        Binding("shift+down", "move(1, 0, True)", "Paint down", show=False),
        Binding("shift+left", "move(0, -1, True)", "Paint left", show=False),
        Binding("shift+right", "move(0, 1, True)", "Paint right", show=False),
        Binding("space", "paint", "Paint"),
    ]

    class Changed(Message):
        """The drawing changed (posted to the pad)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pixels: list[float] = [0.0] * (SIDE * SIDE)  # 0..1, ink bright, row-major
        self.cursor = (SIDE // 2, SIDE // 2)  # (row, col) in pixels
        self._pen: tuple[float, float] | None = None  # where the mouse stroke is, while a button is down
        self._erasing = False

    # -- painting -----------------------------------------------------------------------------
    def clear(self) -> None:
        self.pixels = [0.0] * (SIDE * SIDE)
        self._changed()

    def set_pixels(self, values) -> None:
        """Put a picture on the canvas: 784 values, 0..1 or 0..255 (bytes)."""
        values = list(values)
        if len(values) != SIDE * SIDE:
            raise ValueError(f"a drawing has {SIDE * SIDE} pixels, got {len(values)}")
        top = max(values, default=0)
        scale = 255.0 if top > 1 else 1.0
        self.pixels = [min(1.0, max(0.0, v / scale)) for v in values]
        self._changed()

    def _changed(self) -> None:
        self.refresh()
        self.post_message(self.Changed())

    def action_move(self, drow: int, dcol: int, paint: bool = False) -> None:
        row, col = self.cursor
        new = (min(SIDE - 1, max(0, row + drow)), min(SIDE - 1, max(0, col + dcol)))
        self.cursor = new
        if paint:
            stroke(self.pixels, (row, col), new)
            self._changed()
        else:
            self.refresh()

    def action_paint(self) -> None:
        dab(self.pixels, *self.cursor)
        self._changed()

    def _pixel_at(self, event: events.MouseEvent) -> tuple[float, float] | None:
        """The pixel under the mouse (the middle of the cell's two rows), None outside the canvas."""
        region = self.content_region
        x, y = event.screen_x - region.x, event.screen_y - region.y
        if not (0 <= x < SIDE and 0 <= y < SIDE // 2):
            return None
        return (2 * y + 0.5, float(x))

    def on_mouse_down(self, event: events.MouseDown) -> None:
        at = self._pixel_at(event)
        if at is None:
            return
        event.stop()
        self.focus()
        self._erasing = event.button == 3
        self._pen = at
        self.capture_mouse()
        self.cursor = (min(SIDE - 1, int(at[0])), int(at[1]))
        dab(self.pixels, *at, erase=self._erasing)
        self._changed()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._pen is None:
            return
        at = self._pixel_at(event)
        if at is None or at == self._pen:
            return
        stroke(self.pixels, self._pen, at, erase=self._erasing)
        self._pen = at
        self.cursor = (min(SIDE - 1, int(at[0])), int(at[1]))
        self._changed()

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._pen is not None:
            self._pen = None
            self.release_mouse()

    # -- drawing ----------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        if y >= SIDE // 2:
            return Strip.blank(self.content_size.width, self.rich_style)
        px, (crow, ccol) = self.pixels, self.cursor
        show_cursor = self.has_focus
        segments = []
        for col in range(SIDE):
            top, bottom = (self._grey(px[(2 * y + k) * SIDE + col]) for k in (0, 1))
            if show_cursor and col == ccol and crow // 2 == y:
                if crow % 2 == 0:
                    top = CURSOR
                else:
                    bottom = CURSOR
            segments.append(Segment("▀", _style(top, bottom)))
        return Strip(segments, SIDE)

    @staticmethod
    def _grey(value: float) -> tuple[int, int, int]:
        g = round(value * GREYS) * 255 // GREYS  # a few dozen greys: few distinct styles
        return (g, g, g)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


_STYLES: dict[tuple, Style] = {}


def _style(top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Style:
    key = (top, bottom)
    style = _STYLES.get(key)
    if style is None:
        style = _STYLES[key] = Style(color=Color.from_rgb(*top), bgcolor=Color.from_rgb(*bottom))
    return style
