"""A screen that shows a clear notice instead of a broken layout when the terminal is too small."""

from __future__ import annotations

from textual import events
from textual.screen import Screen
from textual.widgets import Static

MIN_WIDTH, MIN_HEIGHT = 60, 20


class SizedScreen(Screen):
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
