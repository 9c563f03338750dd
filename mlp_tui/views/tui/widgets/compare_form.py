"""The setup screen's compare mode: tick the values of a few settings to train side by side.

Each ticked group is an axis of the grid (one ticked value just sets it); the rest of the form
applies to every variant."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, SelectionList, Static

from mlp_tui.core.config import LOSSES, OPTIMIZERS, ConfigError, RunConfig
from mlp_tui.runs.compare.grid import Axis

DEPTHS = (1, 2, 3)  # hidden layers, each as wide as the form's first one
DROPOUTS = (0.0, 0.2, 0.5)
DEFAULT_SEEDS = 3


def hidden_width(config: RunConfig) -> int:
    """The layer width the compare mode's depths are built from."""
    return config.hidden[0] if config.hidden else 512


def depth_text(width: int, depth: int) -> str:
    return ",".join([str(width)] * depth)


class CompareForm(Vertical):
    DEFAULT_CSS = """
    CompareForm { height: auto; margin-bottom: 1; }
    CompareForm .compare-hint { color: $text-muted; margin-bottom: 1; }
    CompareForm .compare-groups { height: auto; }
    CompareForm .compare-column { width: 1fr; height: auto; }
    CompareForm .compare-column > Label { text-style: bold; }
    CompareForm SelectionList { height: auto; margin-bottom: 1; }
    CompareForm #compare-seeds-row { height: 1; }
    CompareForm #compare-seeds-row Label { width: 7; }
    CompareForm #compare-seeds { width: 8; }
    CompareForm #compare-plan { height: auto; }
    """

    def __init__(self, width: int = 512, **kwargs) -> None:
        super().__init__(**kwargs)
        self.width = width

    def compose(self) -> ComposeResult:
        yield Static(
            "[b]Compare[/]: tick values to try (space); each combination trains once per seed. "
            "Unticked groups keep the value below.",
            classes="compare-hint",
        )
        with Horizontal(classes="compare-groups"):
            with Vertical(classes="compare-column"):
                yield Label("Loss")
                yield SelectionList[str](*[(x, x) for x in LOSSES], id="vary-loss", compact=True)
                yield Label("Hidden layers")
                yield SelectionList[int](*[(depth_text(self.width, d), d) for d in DEPTHS], id="vary-hidden",
                                         compact=True)  # fmt: skip
                yield Label("Dropout")
                yield SelectionList[float](*[(f"{x:g}", x) for x in DROPOUTS], id="vary-dropout", compact=True)
            with Vertical(classes="compare-column"):
                yield Label("Optimizer")
                yield SelectionList[str](*[(x, x) for x in OPTIMIZERS], id="vary-optimizer", compact=True)
                with Horizontal(id="compare-seeds-row"):
                    yield Label("Seeds")
                    yield Input(str(DEFAULT_SEEDS), id="compare-seeds", compact=True, tooltip="runs per variant")
        yield Static(id="compare-plan")

    def set_width(self, width: int) -> None:
        """The depths offered follow the form's hidden size."""
        if width != self.width:
            self.width = width
            hidden = self.query_one("#vary-hidden", SelectionList)
            for i, depth in enumerate(DEPTHS):
                hidden.replace_option_prompt_at_index(i, depth_text(width, depth))

    def ticked(self, key: str) -> list:
        return list(self.query_one(f"#vary-{key}", SelectionList).selected)

    def tick(self, key: str, *values) -> None:
        """Tick values (the tests do it as a user would with space)."""
        selections = self.query_one(f"#vary-{key}", SelectionList)
        for value in values:
            selections.select(value)

    def axes(self) -> list[Axis]:
        """One axis per group with a ticked value, its values in the order offered."""
        axes = []
        for key, offered in (("loss", LOSSES), ("optimizer", OPTIMIZERS), ("hidden", DEPTHS), ("dropout", DROPOUTS)):
            chosen = set(self.ticked(key))
            values: list[object] = [v for v in offered if v in chosen]
            if key == "hidden":
                values = [(self.width,) * depth for depth in DEPTHS if depth in chosen]
            if values:
                axes.append(Axis(key, tuple(values)))
        return axes

    def seeds(self) -> int:
        text = self.query_one("#compare-seeds", Input).value.strip()
        try:
            seeds = int(text)
        except ValueError:
            raise ConfigError(f"Seeds: '{text}' is not a whole number") from None
        if seeds < 1:
            raise ConfigError("Seeds: needs at least 1")
        return seeds

    def show_plan(self, text: str) -> None:
        self.query_one("#compare-plan", Static).update(text)
