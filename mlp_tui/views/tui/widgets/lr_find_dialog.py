"""The setup screen's learning-rate finder: the sweep (the engine's lr_find, as `mlp-tui lr-find`
runs it) on a worker thread with the form's settings, then its chart and suggestions; `a` gives
the suggested rate back for the form's lr field, escape closes (and stops a sweep under way)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static
from textual.worker import get_current_worker
from textual_plotext import PlotextPlot

from mlp_tui.core.config import RunConfig
from mlp_tui.views.console.lr_report import draw_chart, rate_text, suggested_choice, suggestion_lines, summary_lines
from mlp_tui.views.tui.screenshot import save_picture

if TYPE_CHECKING:
    from mlp_tui.engine.lr_find import LrFinding


class LrFindChart(PlotextPlot):
    """The sweep's smoothed loss by rate, each suggestion marked (drawn again at each size: the
    legend and the rate labels depend on the width)."""

    DEFAULT_CSS = "LrFindChart { height: 1fr; min-height: 10; }"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.finding: LrFinding | None = None

    def show(self, finding: LrFinding) -> None:
        self.finding = finding
        self.refresh()

    def render(self):  # as PlotextPlot.render
        if self.finding is not None:
            self.plt.clear_data()
            self.plt.clear_figure()
            plain = self.app.no_color or getattr(self.app, "ascii", False)
            draw_chart(self.plt, self.finding, plain=plain, ascii=getattr(self.app, "ascii", False),
                       width=self.size.width)  # fmt: skip
        return super().render()


class LrFindDialog(ModalScreen[float | None]):
    DEFAULT_CSS = """
    LrFindDialog { align: center middle; }
    LrFindDialog > Vertical {
        width: 100; max-width: 95%; height: 90%; border: thick $accent; padding: 0 1; background: $surface;
    }
    LrFindDialog > Vertical { border-subtitle-color: $text-muted; }
    LrFindDialog #lr-find-status, LrFindDialog #lr-find-text { height: auto; }
    """
    BINDINGS = [
        Binding("a", "apply", "Apply suggested lr"),
        Binding("escape", "cancel", "Close"),
        Binding("ctrl+s", "save_picture", "Screenshot", priority=True),  # as on every screen
    ]

    def __init__(self, config: RunConfig, data_dir: Path | None) -> None:
        super().__init__()
        self.config, self.data_dir = config, data_dir
        self.finding: LrFinding | None = None

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            # The keys in the frame's bottom edge: no row of their own to lose on a short screen.
            box.border_subtitle = "a apply the suggested rate · ctrl+s screenshot · escape close"
            yield Static(
                f"Sweeping the learning rate from 1e-07 to 10 over 100 batches of {self.config.batch_size}, "
                "on a copy of the model (the form's settings)…",
                id="lr-find-status",
            )
            yield LrFindChart(id="lr-find-chart")
            yield Static(id="lr-find-text")

    def on_mount(self) -> None:
        self.sweep()

    def action_save_picture(self) -> None:
        save_picture(self.app, None, "run directory")  # the setup screen's: no run yet

    @work(thread=True, exit_on_error=False, group="lr-find")
    def sweep(self) -> None:
        """Data, device and sweep on a worker thread: the screen keeps answering keys."""
        worker = get_current_worker()
        try:
            from mlp_tui.engine.lr_find import find_lr
            from mlp_tui.runs.launch import prepare

            prepared = prepare(self.config, self.data_dir)
            finding = find_lr(self.config, prepared.data, prepared.device, cancelled=lambda: worker.is_cancelled)
        except Exception as exc:  # bad data folder, no memory: said in the dialog, not a crash
            if not worker.is_cancelled:
                self.app.call_from_thread(self.show_problem, f"{type(exc).__name__}: {exc}")
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self.show_finding, finding)

    def show_problem(self, text: str) -> None:
        self.query_one("#lr-find-status", Static).update(f"[red]✖ The sweep failed: {escape(text)}[/]")

    def show_finding(self, finding: LrFinding) -> None:
        self.finding = finding
        self.query_one("#lr-find-status", Static).update(" ".join(summary_lines(finding, self.config.batch_size)))
        self.query_one(LrFindChart).show(finding)
        lines = ["Suggestions (smoothed training loss):", *suggestion_lines(finding)]
        lines.append(f"{suggested_choice(finding.suggested)} Press a to set lr {rate_text(finding.suggested.lr)}.")
        self.query_one("#lr-find-text", Static).update(escape("\n".join(lines)))
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apply":
            return self.finding is not None
        return True

    def action_apply(self) -> None:
        if self.finding is not None:
            self.dismiss(float(rate_text(self.finding.suggested.lr)))

    def action_cancel(self) -> None:
        self.workers.cancel_group(self, "lr-find")
        self.dismiss(None)
