"""The training data as the setup screen's settings would feed it to the network, before any run:
try --augment and --elastic values on the form and look (escape goes back)."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding

from mlp_tui.core.config import RunConfig
from mlp_tui.views.tui.screens.base import SCREENSHOT, SizedScreen
from mlp_tui.views.tui.widgets.data_view import DataView
from mlp_tui.views.tui.widgets.fitted_footer import FittedFooter


class DataScreen(SizedScreen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), SCREENSHOT]

    def __init__(self, config: RunConfig, data_dir: str | Path | None) -> None:
        super().__init__()
        self.config, self.data_dir = config, data_dir

    def compose(self) -> ComposeResult:
        yield DataView(self.config, self.data_dir, id="data-view")
        yield FittedFooter()

    def on_mount(self) -> None:
        self.query_one(DataView).focus()
