"""Draw a digit and see what the model reads: a 28x28 canvas painted with the mouse (drag; the
right button erases) or the keyboard (arrows move the cursor, space paints, shift+arrows paint as
they move), `c` clears; beside it the probability of every class as bars, updated as you draw.

The model is the run's newest checkpoint (last.pt while it trains: the weights as of the last
epoch; best.pt once it ended), loaded on a worker thread and again when told an epoch ended. The
drawing is made MNIST-like (ink scaled into the 20x20 box, centred by mass in 28x28) and read on
a worker thread, so drawing never waits for the model.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

from rich.color import Color
from rich.console import Group
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

from ....datasets import DIGITS, class_labels
from ....render import SIDE, bar

# The brush: full ink within about a pixel of the centre, fading out by 2.5 px, like the
# antialiased strokes of MNIST (2-3 px wide once a digit is scaled to its 20 px box).
BRUSH_SIGMA = 0.9
BRUSH_GAIN = 1.3
BRUSH_REACH = 3
STEP_PX = 0.5  # dabs along a stroke, so a fast drag leaves no gaps
CURSOR = (255, 170, 0)
RELOAD_DELAY_S = 0.3
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


class DrawPad(Horizontal):
    """The canvas and, beside it, what the run's model makes of the drawing."""

    DEFAULT_CSS = """
    DrawPad { height: auto; min-height: 16; }
    DrawPad #draw-side { width: 1fr; height: auto; padding: 0 1; }
    DrawPad #draw-status { height: auto; }
    DrawPad #draw-bars { height: auto; margin-top: 1; }
    DrawPad #draw-help { height: auto; color: $text-muted; margin-top: 1; }
    """
    BINDINGS = [Binding("c", "clear", "Clear drawing")]

    class ModelLoaded(Message):
        def __init__(self, request: int, model, error: str | None) -> None:
            super().__init__()
            self.request, self.model, self.error = request, model, error

    class Predicted(Message):
        def __init__(self, probabilities: list[float] | None, drawn: bool, epoch: int | None,
                     error: str | None = None) -> None:  # fmt: skip
            super().__init__()
            self.probabilities, self.drawn, self.epoch, self.error = probabilities, drawn, epoch, error

    def __init__(self, run_dir: str | Path | None = None, classes: tuple[str, ...] = DIGITS, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run_dir = Path(run_dir) if run_dir else None
        self.class_names = tuple(classes)
        self.model = None  # runs.weights.DrawModel, once loaded
        self.model_note = "No run yet: the model appears when its first epoch ends."
        self.probabilities: list[float] | None = None
        self._stale = self.run_dir is not None
        self._timer: Timer | None = None
        self._lock = threading.Lock()
        self._pending: list[float] | None = None  # the newest drawing not yet read by the model
        self._predicting = False
        self._request = 0  # the newest load asked for: an older one finishing late is ignored

    def compose(self) -> ComposeResult:
        yield DrawCanvas(id="draw-canvas")
        with Vertical(id="draw-side"):
            yield Static(id="draw-status")
            yield Static(id="draw-bars")
            yield Static(
                "Drag to draw (right button erases) · arrows move, space paints, shift+arrows paint a line"
                " · c clears",
                id="draw-help",
            )

    def on_mount(self) -> None:
        self._show()

    @property
    def canvas(self) -> DrawCanvas:
        return self.query_one(DrawCanvas)

    # -- what the screen calls -----------------------------------------------------------------
    def set_run(self, run_dir: str | Path | None) -> None:
        """The run directory whose model reads the drawings; loaded when the pad is shown."""
        run_dir = Path(run_dir) if run_dir else None
        if run_dir == self.run_dir:
            return
        self.run_dir, self.model = run_dir, None
        self._request += 1  # what is being loaded of another run is not wanted any more
        self.epoch_ended()

    def epoch_ended(self) -> None:
        """A new checkpoint may be there: load it (now if the pad is shown, else when it is)."""
        self._stale = True
        if self._timer is not None:
            self._timer.stop()
        if self.is_mounted:  # else on_show loads it
            self._timer = self.set_timer(RELOAD_DELAY_S, self._reload_if_shown)

    def clear(self) -> None:
        self.canvas.clear()

    def focus_canvas(self) -> None:
        """Give the canvas the keyboard (arrows, space, c), e.g. when its tab is chosen."""
        self.canvas.focus()

    def action_clear(self) -> None:
        self.clear()

    # -- the model -------------------------------------------------------------------------------
    def on_show(self) -> None:
        self._reload_if_shown()

    def _reload_if_shown(self) -> None:
        if self._stale and self.run_dir is not None and self.is_mounted and self.is_on_screen:
            self._stale = False
            self._request += 1
            if self.model is None:
                self.model_note = f"Loading the model of {self.run_dir.name} …"
                self._show()
            self._load(self._request, self.run_dir, self.model.stamp if self.model else None)

    @work(thread=True, exclusive=True, group="draw-load", exit_on_error=False)
    def _load(self, request: int, run_dir: Path, stamp) -> None:
        from ....runs.store import CheckpointError
        from ....runs.weights import NoCheckpointYet, load_draw_model, newest_checkpoint, stamp_of

        try:
            path = newest_checkpoint(run_dir)
            if stamp is not None and stamp_of(path) == stamp:
                return
            self.post_message(self.ModelLoaded(request, load_draw_model(run_dir, path), None))
        except NoCheckpointYet:
            note = "No checkpoint yet: the model appears when the first epoch ends."
            self.post_message(self.ModelLoaded(request, None, note))
        except CheckpointError as exc:
            self.post_message(self.ModelLoaded(request, None, str(exc)))
        except Exception as exc:  # a view must not take the app down: say what happened
            note = f"cannot load the model: {type(exc).__name__}: {exc}"
            self.post_message(self.ModelLoaded(request, None, note))

    def on_draw_pad_model_loaded(self, message: ModelLoaded) -> None:
        message.stop()
        if message.request != self._request:
            return  # overtaken by a newer load (of a newer checkpoint, or another run)
        if message.model is None:
            if self.model is None:
                self.model_note = message.error or ""
                self._show()
            return
        self.model, self.class_names = message.model, message.model.classes
        self.model_note = f"model: {self.model.checkpoint.name}, epoch {self.model.epoch}"
        self._predict()

    # -- reading the drawing ---------------------------------------------------------------------
    def on_draw_canvas_changed(self, message: DrawCanvas.Changed) -> None:
        message.stop()
        if self.model is None and self._stale:
            self._reload_if_shown()
        self._predict()

    def _predict(self) -> None:
        """Hand the newest drawing to the reader thread; one thread at a time reads the newest."""
        with self._lock:
            self._pending = list(self.canvas.pixels)
            if self._predicting:
                return
            self._predicting = True
        self._read_drawings()

    @work(thread=True, group="draw-predict", exit_on_error=False)
    def _read_drawings(self) -> None:
        from ....runs.weights import drawing_pixels

        while True:
            with self._lock:
                drawing, self._pending = self._pending, None
                if drawing is None:
                    self._predicting = False
                    return
            model = self.model
            try:
                pixels = drawing_pixels(drawing)
                probabilities = model.predict(pixels) if (model is not None and pixels is not None) else None
            except Exception as exc:  # a view must not take the app down: say what happened
                self.post_message(self.Predicted(None, False, None, f"cannot read the drawing: {exc}"))
                continue
            self.post_message(self.Predicted(probabilities, pixels is not None, model.epoch if model else None))

    def on_draw_pad_predicted(self, message: Predicted) -> None:
        message.stop()
        if message.error:
            self.model_note = message.error
        self.probabilities = message.probabilities if message.drawn else None
        self._show()

    # -- showing -----------------------------------------------------------------------------------
    @property
    def prediction(self) -> int | None:
        """The class the model reads in the drawing (None before it has read one)."""
        p = self.probabilities
        return None if not p else max(range(len(p)), key=p.__getitem__)

    def _show(self) -> None:
        if not self.is_mounted:
            return
        status, bars = self.query_one("#draw-status", Static), self.query_one("#draw-bars", Static)
        p, labels = self.probabilities, class_labels(self.class_names)
        top = self.prediction
        if p is None or top is None:
            heading = "Draw on the canvas: the model reads it as you draw." if self.model else ""
            status.update(Text.assemble((self.model_note, "dim"), "\n", heading))
            bars.update("")
            return
        status.update(Text.assemble(
            (self.model_note, "dim"), "\nreads it as ", (labels[top], "bold green"), f"  ({p[top] * 100:.1f} %)",
        ))  # fmt: skip
        name = max(len(label) for label in labels)
        lines = []
        for c, (label, value) in enumerate(zip(labels, p)):
            style = "bold green" if c == top else ""
            lines.append(Text.assemble((f"{label:<{name}} ", "bold"), (bar(value, 20), style or "cyan"),
                                       f" {value * 100:5.1f}%"))  # fmt: skip
        bars.update(Group(*lines))
