"""A Textual driver for ASCII-only terminals (LANG=C, MLP_TUI_ASCII=1).

Our widgets choose ASCII forms themselves (chart markers, digit ramps, marks); this catches the
rest, Textual's borders and scroll bars included, by translating everything written to the
terminal to one ASCII character per glyph, so the layout keeps its widths.
"""

from __future__ import annotations

from textual.driver import Driver

from mlp_tui.text.terminal import asciify


def ascii_driver(base: type[Driver]) -> type[Driver]:
    class AsciiDriver(base):  # type: ignore[valid-type, misc]
        def write(self, data: str) -> None:
            super().write(asciify(data))

    return AsciiDriver
