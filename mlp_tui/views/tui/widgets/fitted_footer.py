"""A compact footer that shows only the keys that fit whole: Textual's own footer lets the last
keys run off the edge (or under the command-palette key) at 80 columns, cutting words and hiding
`q Quit`. Keys come in the order the screen's bindings do, the focused widget's (the tab's) first;
the way out (quit, back) and the palette key are always kept, and a key that does not fit is
left out whole. Every key, shown or not, is still in the command palette (ctrl+p)."""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# The actions of the keys that leave a screen: never left out.
WAY_OUT = frozenset({"app.quit", "quit", "back", "app.pop_screen"})


def key_width(key: FooterKey) -> int:
    """Cells one key takes in a compact footer: `k Label` and a space after it."""
    width = cell_len(key.key_display) + (1 + cell_len(key.description) if key.description else 0)
    return width + 1


def keys_to_show(widths: list[int], pinned: list[bool], room: int) -> list[bool]:
    """Which keys fit in `room` cells: the pinned ones first, then the rest in order, each whole
    or not at all (a later short key may take the space a long one could not)."""
    left = room - sum(w for w, pin in zip(widths, pinned, strict=True) if pin)
    shown = []
    for width, pin in zip(widths, pinned, strict=True):
        fits = pin or width <= left
        if fits and not pin:
            left -= width
        shown.append(fits)
    return shown


class FittedFooter(Footer):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("compact", True)
        super().__init__(**kwargs)

    async def recompose(self) -> None:
        await super().recompose()
        self.fit()

    def on_resize(self, event: events.Resize) -> None:
        self.fit()

    def fit(self) -> None:
        keys = [k for k in self.query(FooterKey) if not k.has_class("-command-palette")]
        palette = [k for k in self.query(FooterKey) if k.has_class("-command-palette")]
        room = self.size.width or self.app.size.width
        room -= sum(key_width(k) + 1 for k in palette)  # the palette key's border takes one more
        shown = keys_to_show([key_width(k) for k in keys], [k.action in WAY_OUT for k in keys], room)
        for key, show in zip(keys, shown, strict=True):
            key.display = show

    def shown_text(self) -> str:
        """The footer as a person reads it (for tests): the keys shown, in order."""
        keys = [k for k in self.query(FooterKey) if k.display]
        return "  ".join(f"{k.key_display} {k.description}".strip() for k in keys)
