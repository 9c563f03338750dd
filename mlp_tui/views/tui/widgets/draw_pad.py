"""Draw a digit and see what the model reads: a 28x28 canvas painted with the mouse (drag; the
right button erases) or the keyboard (arrows move the cursor, space paints, shift+arrows paint as
they move), `c` clears; beside it the probability of every class as bars, updated as you draw.

The model is the run's newest checkpoint (last.pt while it trains: the weights as of the last
epoch; best.pt once it ended), loaded on a worker thread and again when told an epoch ended. The
drawing is made MNIST-like (ink scaled into the 20x20 box, centred by mass in 28x28) and read on
a worker thread, so drawing never waits for the model.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Static

from mlp_tui.core.datasets import DIGITS, class_labels, dataset_info
from mlp_tui.text.render import bar
from mlp_tui.views.tui.widgets.checkpoint_follower import CheckpointFollower
from mlp_tui.views.tui.widgets.draw_canvas import DrawCanvas

if TYPE_CHECKING:
    from mlp_tui.runs.weights import DrawModel


class DrawPad(CheckpointFollower, Horizontal):
    """The canvas and, beside it, what the run's model makes of the drawing."""

    DEFAULT_CSS = """
    DrawPad { height: auto; min-height: 16; }
    DrawPad #draw-side { width: 1fr; height: auto; padding: 0 1; }
    DrawPad #draw-status { height: auto; }
    DrawPad #draw-bars { height: auto; margin-top: 1; }
    DrawPad #draw-help { height: auto; color: $text-muted; margin-top: 1; }
    """
    BINDINGS = [Binding("c", "clear", "Clear drawing")]

    reading_note = "Loading the model of {name} …"
    waiting_note = "No checkpoint yet: the model appears when the first epoch ends."
    failure = "cannot load the model"

    class Predicted(Message):
        def __init__(self, probabilities: list[float] | None, drawn: bool, epoch: int | None,
                     error: str | None = None) -> None:  # fmt: skip
            super().__init__()
            self.probabilities, self.drawn, self.epoch, self.error = probabilities, drawn, epoch, error

    def __init__(self, run_dir: str | Path | None = None, classes: tuple[str, ...] = DIGITS, **kwargs) -> None:
        super().__init__(**kwargs)
        self.follow(run_dir)
        self.class_names = tuple(classes)
        self.model: DrawModel | None = None  # once loaded
        self.model_note = "No run yet: the model appears when its first epoch ends."
        self.probabilities: list[float] | None = None
        self._lock = threading.Lock()
        self._pending: list[float] | None = None  # the newest drawing not yet read by the model
        self._predicting = False

    def compose(self) -> ComposeResult:
        yield DrawCanvas(id="draw-canvas")
        with Vertical(id="draw-side"):
            yield Static(id="draw-status")
            yield Static(id="draw-bars")
            yield Static(
                "Drag to draw (right button erases) · arrows move, space paints, shift+arrows paint a line · c clears",
                id="draw-help",
            )

    def on_mount(self) -> None:
        self._show()

    @property
    def canvas(self) -> DrawCanvas:
        return self.query_one(DrawCanvas)

    # -- what the screen calls -----------------------------------------------------------------
    def clear(self) -> None:
        self.canvas.clear()

    def focus_canvas(self) -> None:
        """Give the canvas the keyboard (arrows, space, c), e.g. when its tab is chosen."""
        self.canvas.focus()

    def action_clear(self) -> None:
        self.clear()

    # -- the model: what the follower reads and shows --------------------------------------------
    @property
    def current(self):
        return self.model

    def forget(self) -> None:
        self.model = None

    def read_checkpoint(self, run_dir: Path, path: Path):
        from mlp_tui.runs.weights import load_draw_model

        return load_draw_model(run_dir, path)

    def show_note(self, text: str) -> None:
        self.model_note = text
        self._show()

    def show_value(self, model: DrawModel) -> None:
        self.model, self.class_names = model, model.classes
        self.model_note = f"model: {model.checkpoint.name}, epoch {model.epoch}"
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
        from mlp_tui.runs.weights import drawing_pixels

        while True:
            with self._lock:
                drawing, self._pending = self._pending, None
                if drawing is None:
                    self._predicting = False
                    return
            model = self.model
            try:
                # framed as the run's dataset's pictures were (a shoe fills the frame, a digit does not)
                framing = dataset_info(model.loaded.config.dataset).framing if model is not None else "box"
                pixels = drawing_pixels(drawing, framing)
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
        # Not strict: a reading by the previous model may arrive after a new model's class names.
        for c, (label, value) in enumerate(zip(labels, p, strict=False)):
            style = "bold green" if c == top else ""
            lines.append(Text.assemble((f"{label:<{name}} ", "bold"), (bar(value, 20), style or "cyan"),
                                       f" {value * 100:5.1f}%"))  # fmt: skip
        bars.update(Group(*lines))
