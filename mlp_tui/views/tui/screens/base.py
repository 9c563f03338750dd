"""A screen that shows a clear notice instead of a broken layout when the terminal is too small,
and saves a picture of itself (ctrl+s) where its run or comparison lives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from textual import events
from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from mlp_tui.views.tui.screenshot import save_picture

MIN_WIDTH, MIN_HEIGHT = 60, 20
# Each screen places it among its own keys, where the footer has room for it.
SCREENSHOT = Binding("ctrl+s", "save_picture", "Screenshot", priority=True)


class SizedScreen(Screen):
    picture_home = "run directory"  # what picture_folder() names, for "no … yet"

    def on_mount(self) -> None:
        self.mount(Static(id="too-small"))
        self.check_size(self.app.size.width, self.app.size.height)

    def on_resize(self, event: events.Resize) -> None:
        self.check_size(event.size.width, event.size.height)

    def check_size(self, width: int, height: int) -> None:
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.set_class(small, "-too-small")
        self.set_class(width >= 110 and height >= 30, "-wide")
        if small:
            self.query_one("#too-small", Static).update(
                f"Terminal too small: {width}×{height}.\nmlp-tui needs at least {MIN_WIDTH}×{MIN_HEIGHT}; "
                "please enlarge the window."
            )

    # -- ctrl+s -------------------------------------------------------------------------------------
    def picture_folder(self) -> Path | None:
        """Where a screenshot of this screen goes: its run's or comparison's directory (None:
        none yet, the current directory)."""
        return None

    def action_save_picture(self) -> None:
        save_picture(self.app, self.picture_folder(), self.picture_home)

    def system_commands(self) -> Iterator[SystemCommand]:
        """This screen's entries in the command palette (ctrl+p); each screen adds its own."""
        yield SystemCommand("Save a picture of the screen", "An SVG in the run or comparison directory (ctrl+s)",
                            self.action_save_picture)  # fmt: skip
