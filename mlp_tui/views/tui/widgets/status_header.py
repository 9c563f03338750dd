"""The training screen's two status lines: what the run is doing (state, preset, model, epoch,
elapsed, ETA), then its learning rate, kept epoch, device and directory, or how it ended. Each
line fits the width: what matters least goes first, and what still does not fit ends with an
ellipsis at a word's end. A failed run's message is never shortened: it wraps (it says what to
do next)."""

from __future__ import annotations

import time

from rich.markup import escape
from rich.text import Text
from textual.widgets import Static

from mlp_tui.core.events import EndStatus, RunFailed, RunFinished
from mlp_tui.text.report import device_words, gpu_words, pct
from mlp_tui.views.eta import clock
from mlp_tui.views.state import RunProgress, RunState
from mlp_tui.views.tui.widgets.fit_text import shorten_text
from mlp_tui.views.tui.widgets.lr_dialog import asked_words

STATES = {
    RunState.STARTING: "[yellow]● loading data[/]",
    RunState.RUNNING: "[green]● training[/]",
    RunState.PAUSED: "[yellow]❚❚ paused[/]",
    RunState.STOPPING: "[yellow]■ stopping…[/]",
    RunState.FAILED: "[red]✖ failed[/]",
    RunState.STALE: "[yellow]⚠ stale: no news for a while[/]",
    RunState.DIED: "[red]✖ process gone, run not finished[/]",
}


def finished_label(result: RunFinished | RunFailed | None) -> str:
    status: str = result.status if isinstance(result, RunFinished) else EndStatus.COMPLETED
    labels: dict[str, str] = {
        EndStatus.COMPLETED: "[green]✔ finished[/]",
        EndStatus.EARLY_STOPPED: "[green]✔ stopped early[/] (no progress)",
    }
    return labels.get(status, f"[yellow]■ {status}[/]")


class StatusHeader(Static):
    """Renders a run's RunProgress; keeps no run state of its own."""

    def __init__(self, preset: str, architecture: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.preset, self.architecture = preset, architecture  # the run's, fixed

    def show(self, run: RunProgress, width: int) -> None:
        """`width`: the room to assume while this widget has no size of its own yet."""
        width = max(20, self.size.width or width)
        lines = [shorten_text(self.state_line(run, width), width), self.run_line(run, width)]
        self.update(Text("\n").join(lines), layout=False)

    def state_line(self, run: RunProgress, width: int) -> Text:
        state = finished_label(run.result) if run.status == RunState.FINISHED else STATES[run.status]
        parts = [
            f"{state}  [b]{escape(self.preset)}[/]",
            self.architecture,
            f"epoch {run.shown_epoch}/{run.epochs}",  # in progress (its bar is below), or the last one done
            f"elapsed {clock(run.elapsed(time.time()))}",
            f"ETA {clock(run.time_left()) if run.going else '--:--'}",
        ]
        if Text.from_markup(" · ".join(parts)).cell_len > width:
            parts.pop(1)  # narrow terminal: the model is on the Model tab anyway
        return Text.from_markup(" · ".join(parts))

    @staticmethod
    def run_line(run: RunProgress, width: int) -> Text:
        """How the run ended, or the learning rate, the epoch whose weights are kept, the device
        and the run directory (the directory goes first)."""
        result = run.result
        if isinstance(result, RunFailed):
            return Text.from_markup(f"[red]{escape(result.message)}[/]")  # whole: Static wraps it
        if run.status == RunState.DIED:
            line = f"[red]resume it with: mlp-tui run --resume {escape(run.run_dir)} --headless[/]"
        elif isinstance(result, RunFinished) and result.test_accuracy is not None:
            # `n New run` is on the footer: the line keeps its room for the directory
            line = (f"[green]test accuracy {pct(result.test_accuracy)}[/] (best weights: epoch {result.best_epoch})"
                    f" · {escape(run.run_dir)}")  # fmt: skip
        else:
            lr = f"lr {run.lr:.3g}"
            if run.lr_asked is not None:
                lr += f" → {asked_words(run.lr_asked)} at the next batch"
            best = "" if run.best_epoch is None else f" · best weights: epoch {run.best_epoch}"
            # The GPU's figures change, the device does not: they go first, where a narrow line keeps them.
            gpu = gpu_words(run.gpu_progress)
            where = escape(f"{device_words(run.device, run.step)}  ·  {run.run_dir or 'run directory: pending'}")
            line = f"{lr}{best}  ·  {f'{gpu}  ·  ' if gpu else ''}[dim]{where}[/]"
        return shorten_text(Text.from_markup(line), width)
