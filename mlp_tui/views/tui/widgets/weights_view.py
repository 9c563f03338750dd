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
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.strip import Strip

from mlp_tui.text.render import PICTURE_GAP, SIDE, WEIGHT_LEGEND_PLAIN, weight_grid_runs
from mlp_tui.views.tui.widgets.checkpoint_follower import CheckpointFollower
from mlp_tui.views.tui.widgets.paged_view import PagedView, plain_strip

if TYPE_CHECKING:
    from mlp_tui.runs.weights import FirstLayer

HEADER = 2  # lines above the pictures
PICTURE_LINES = SIDE // 2 + 1  # 14 lines of half blocks and the label


class WeightsView(CheckpointFollower, PagedView):
    DEFAULT_CSS = """
    WeightsView { width: 1fr; height: 1fr; padding: 0 1; }
    WeightsView:focus { background-tint: $foreground 3%; }
    """
    BINDINGS = [
        Binding("full_stop,pagedown", "page(1)", "Next units", key_display=".", tooltip="Next units (, the previous)"),
        # short labels: room at 80 columns for the run's own keys (the header says which scale)
        Binding("comma,pageup", "page(-1)", "Prev units", key_display=",", show=False),
        Binding("home", "page_to(0)", "First", show=False),
        Binding("u", "toggle_scale", "Scale", tooltip="Scale per unit or per page"),
    ]

    reading_note = "Reading the weights of {name} …"
    waiting_note = "No checkpoint yet: the weights appear when the first epoch ends."
    failure = "cannot read the weights"
    what = "the weights"

    def __init__(self, run_dir: str | Path | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.follow(run_dir)
        self.first_layer: FirstLayer | None = None  # once read
        self.notice = "No run yet: the first layer's weights appear when its first epoch ends."
        self.per_picture = True  # scale each picture by its own largest |w|

    # -- what the follower reads and shows ------------------------------------------------------
    @property
    def current(self):
        return self.first_layer

    def forget(self) -> None:
        self.first_layer, self.first = None, 0

    def read_checkpoint(self, run_dir: Path, path: Path):
        from mlp_tui.runs.weights import read_first_layer

        return read_first_layer(run_dir, path)

    def show_note(self, text: str) -> None:
        self.notice = text
        self.redraw()

    def show_value(self, layer: FirstLayer) -> None:
        self.first_layer = layer
        self.shown_anew()
        self.first = min(self.first, max(0, layer.count - 1))
        self.redraw()

    def action_toggle_scale(self) -> None:
        self.per_picture = not self.per_picture
        self.redraw()

    # -- pages ----------------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return self.first_layer.count if self.first_layer else 0

    @property
    def per_row(self) -> int:
        return max(1, (self.content_size.width + PICTURE_GAP) // (SIDE + PICTURE_GAP))

    @property
    def per_page(self) -> int:
        rows = max(1, (self.content_size.height - HEADER) // PICTURE_LINES)
        return self.per_row * rows

    def page_request(self, width: int):
        layer, notice, first, per_page = self.first_layer, self.notice, self.first, self.per_page
        per_picture, base, colour = self.per_picture, self.rich_style, not self.app.no_color
        return (per_page, per_picture, colour, notice), lambda: page_strips(
            layer, notice, first, width, per_page, per_picture, base, colour
        )


def page_strips(
    layer, message: str, first: int, width: int, per_page: int, per_picture: bool, base: Style, colour: bool
) -> list[Strip]:
    """The lines of one page: a header of two lines, then the pictures and their labels."""
    if layer is None:
        return [plain_strip(line, width, base) for line in textwrap.wrap(message, max(10, width))]
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
    strips = [plain_strip(top, width, base, bold=True), plain_strip(second, width, base)]
    for runs in weight_grid_runs(pictures, width, colour=colour, per_picture=per_picture):
        segments = [Segment(text, base + Style.parse(style) if style else base) for text, style in runs]
        strips.append(Strip(segments).adjust_cell_length(width, base))
    return strips
