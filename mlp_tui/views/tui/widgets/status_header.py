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

from mlp_tui.core.events import RunFailed, RunFinished
from mlp_tui.text.report import pct
from mlp_tui.views.eta import clock, run_left
from mlp_tui.views.tui.widgets.fit_text import shorten_text
from mlp_tui.views.tui.widgets.lr_dialog import asked_words

STATES = {
    "starting": "[yellow]● loading data[/]",
    "running": "[green]● training[/]",
    "paused": "[yellow]❚❚ paused[/]",
    "stopping": "[yellow]■ stopping…[/]",
    "failed": "[red]✖ failed[/]",
    "stale": "[yellow]⚠ stale: no news for a while[/]",
    "died": "[red]✖ process gone, run not finished[/]",
}


def finished_label(result) -> str:
    status = result.status if isinstance(result, RunFinished) else "completed"
    return {
        "completed": "[green]✔ finished[/]",
        "early-stopped": "[green]✔ stopped early[/] (no progress)",
    }.get(status, f"[yellow]■ {status}[/]")


class StatusHeader(Static):
    """Reads the training screen's run state (`view`); keeps none of its own."""

    def show(self, view) -> None:
        width = max(20, self.size.width or view.size.width - 2)
        lines = [shorten_text(self.state_line(view, width), width), self.run_line(view, width)]
        self.update(Text("\n").join(lines), layout=False)

    @staticmethod
    def state_line(view, width: int) -> Text:
        elapsed = (view.ended_at or time.time()) - view.started_at
        total = view.config.epochs
        eta = run_left(total, view.epoch, view.epoch_seconds, view.progress, view.config.batch_size)
        state = finished_label(view.result) if view.state == "finished" else STATES[view.state]
        parts = [
            f"{state}  [b]{escape(view.preset)}[/]",
            view.config.architecture,
            # the epoch in progress (its bar is below), or the last one done between epochs
            f"epoch {max(view.epoch, view.progress.epoch if view.progress else 0)}/{total}",
            f"elapsed {clock(elapsed)}",
            f"ETA {clock(eta) if view.running else '--:--'}",
        ]
        if Text.from_markup(" · ".join(parts)).cell_len > width:
            parts.pop(1)  # narrow terminal: the model is on the Model tab anyway
        return Text.from_markup(" · ".join(parts))

    @staticmethod
    def run_line(view, width: int) -> Text:
        """How the run ended, or the learning rate, the epoch whose weights are kept, the device
        and the run directory (the directory goes first)."""
        result = view.result
        if isinstance(result, RunFailed):
            return Text.from_markup(f"[red]{escape(result.message)}[/]")  # whole: Static wraps it
        if view.state == "died":
            line = f"[red]resume it with: mlp-tui run --resume {escape(view.run_dir)} --headless[/]"
        elif isinstance(result, RunFinished) and result.test_accuracy is not None:
            # `n New run` is on the footer: the line keeps its room for the directory
            line = (f"[green]test accuracy {pct(result.test_accuracy)}[/] (best weights: epoch {result.best_epoch})"
                    f" · {escape(view.run_dir)}")  # fmt: skip
        else:
            lr = f"lr {view.lr:.3g}"
            if view.lr_asked is not None:
                lr += f" → {asked_words(view.lr_asked)} at the next batch"
            best = "" if view.best_epoch is None else f" · best weights: epoch {view.best_epoch}"
            where = escape(f"{view.device}  ·  {view.run_dir or 'run directory: pending'}")
            line = f"{lr}{best}  ·  [dim]{where}[/]"
        return shorten_text(Text.from_markup(line), width)
