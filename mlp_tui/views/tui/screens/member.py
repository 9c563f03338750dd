"""One member of a comparison, followed like `mlp-tui watch` follows a run; escape goes back."""

from __future__ import annotations

from pathlib import Path

from textual.binding import Binding

from mlp_tui.core.config import RunConfig
from mlp_tui.runs.follow import RunWatch
from mlp_tui.views.tui.screens.training import TrainingScreen


class MemberScreen(TrainingScreen):
    BINDINGS = [Binding("escape", "back", "Back to comparison")]

    def __init__(self, config: RunConfig, preset: str, run_dir: Path, *, data_dir: Path | None = None,
                 tab: str = "charts") -> None:  # fmt: skip
        super().__init__(config, preset, RunWatch(run_dir), data_dir=data_dir, watching=True)
        self.run_dir_path = Path(run_dir)
        self.first_tab = tab

    def action_back(self) -> None:
        self.app.pop_screen()  # unmounting closes the watcher
