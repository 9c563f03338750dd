"""How a run setting is declared: its help, choices or range, and its label on the setup form.
RunConfig's fields carry one each; the command line, the form and validation read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

_T = TypeVar("_T")


@dataclass(frozen=True)
class Option:
    """How a run setting is offered and checked: its help (for --help, the form and error
    messages), its choices or range, and its label among the common settings at the top of the
    setup form (without one it is under the form's Advanced, named by `title` or its key)."""

    help: str
    label: str = ""
    title: str = ""  # the Advanced section's name for it, where the key reads badly (init)
    choices: tuple[str, ...] = ()
    low: float | None = None  # bounds, inclusive
    high: float | None = None
    above: float | None = None  # bounds, exclusive
    below: float | None = None
    cli: bool = True  # an option of `mlp-tui run`

    def form_label(self, key: str) -> str:
        """Its name on the setup form: the label, the title, or the key in words (Weight decay)."""
        return self.label or self.title or key.replace("_", " ").capitalize()

    def range_text(self) -> str:
        """The bounds in words: "0 <= x < 1", ">= 0", "> 0"; "" when unbounded."""
        low = f"{self.low:g} <= " if self.low is not None else f"{self.above:g} < " if self.above is not None else ""
        high = f" <= {self.high:g}" if self.high is not None else f" < {self.below:g}" if self.below is not None else ""
        if low and high:
            return f"{low}x{high}"
        if low:
            return f">= {self.low:g}" if self.low is not None else f"> {self.above:g}"
        return high.strip()

    def in_range(self, value: float) -> bool:
        return not (
            (self.low is not None and value < self.low)
            or (self.high is not None and value > self.high)
            or (self.above is not None and value <= self.above)
            or (self.below is not None and value >= self.below)
        )


def option(
    default: _T,
    help: str,
    *,
    label: str = "",
    title: str = "",
    choices: tuple[str, ...] = (),
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    below: float | None = None,
    cli: bool = True,
) -> _T:
    """A RunConfig field with its Option: `lr: float = option(0.01, "the learning rate", above=0)`.
    Typed as its default, so a field whose declaration and default disagree is caught."""
    declared = Option(
        help, label=label, title=title, choices=choices, low=low, high=high, above=above, below=below, cli=cli
    )
    return field(default=default, metadata={"option": declared})
