"""Prints a run's events: a Rich live display on a terminal, one plain line per epoch otherwise;
`run_headless` trains a run with such a printer as its only view."""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING, Any, TextIO

from mlp_tui.core.config import RunConfig, build_config
from mlp_tui.core.datasets import dataset_info
from mlp_tui.core.events import (  # fmt: skip
    BatchProgress,
    EpochEnd,
    Evaluation,
    Event,
    HealthWarning,
    LayerHealth,
    LrChanged,
    Paused,
    Resumed,
    RunFailed,
    RunFinished,
    RunStarted,
    ThreadsChanged,
)
from mlp_tui.core.presets import expectation_line
from mlp_tui.text.render import wants_ascii
from mlp_tui.text.report import Holdout, batch_line, device_words, epoch_line, final_report, gpu_words
from mlp_tui.text.reproduce import ReproduceLine
from mlp_tui.text.width import fold, layout_width
from mlp_tui.views.eta import clock, duration, epoch_left
from mlp_tui.views.state import RunProgress

if TYPE_CHECKING:
    from rich.progress import TaskID


def _start_lines(e: RunStarted) -> list[str]:
    c = build_config(e.config)
    return [
        f"mlp-tui: preset {e.preset}  model {c.architecture}{_layers(c)}  {e.parameters:,} parameters  "
        f"device {device_words(e.device, e.step)}",
        f"loss {c.loss}  optimizer {c.optimizer}  {c.lr_text}  batch {c.batch_size}  epochs {c.epochs}  "
        f"schedule {c.schedule}" + "".join(f"  {x}" for x in c.training_extras()),
        f"data: {dataset_info(c.dataset).title}, {e.train_size:,} train / {e.val_size:,} validation / "
        f"{e.test_size:,} test images" + (f"  run directory: {e.run_dir}" if e.run_dir else ""),
        *([Holdout.of(e).note()] if Holdout.of(e).note() else []),
        *([expected] if (expected := expectation_line(e.preset, c)) else []),
        *([f"a line every {c.log_every} batches: loss and accuracy of the epoch so far"] if c.log_every else []),
    ]


def _layers(c: RunConfig) -> str:
    """What the hidden layers add besides their sizes (a preset may give a dataset its own)."""
    extras = (["batch norm"] if c.batch_norm else []) + ([f"dropout {c.dropout:g}"] if c.dropout else [])
    return f" ({', '.join(extras)})" if extras else ""


def health_line(event: LayerHealth) -> str:
    """One line per epoch: what a layer's health looks like at a glance (the Health tab has it all)."""
    parts = []
    for s in event.layers:
        name = "out" if s is event.layers[-1] else f"L{s.layer}"
        share = (
            f" dead {s.dead:.0%}"
            if s.dead is not None
            else f" sat {s.saturated:.0%}"
            if s.saturated is not None
            else ""
        )
        parts.append(f"{name}{share} grad {s.grad_norm:.1e} upd {s.update_ratio:.0e}")
    return "  health  " + " · ".join(parts)


ASKED_BY = {"app": " (from the app)", "watcher": " (from a watcher)"}


def pause_line(event: Paused | Resumed) -> str:
    """`paused in epoch 2, after batch 28 (from a watcher)`, `resumed after 12 s (from a watcher)`."""
    by = ASKED_BY.get(event.by or "", "")
    if isinstance(event, Resumed):
        return f"resumed after {duration(event.seconds)}{by}"
    if event.batch == 0:
        return f"paused at the start of epoch {event.epoch}{by}"
    return f"paused in epoch {event.epoch}, after batch {event.batch}{by}"


def failure_line(event: RunFailed, ascii: bool = False) -> str:
    """A full disk is no fault of the run: its message alone, which names what is kept and ends
    with the command that goes on (so no "Reproduce with" after it)."""
    if event.reason != "disk-full":
        return f"mlp-tui: run failed: {event.message}"
    text = f"mlp-tui: {event.message}"
    return text.replace("—", "-") if ascii else text


class PlainPrinter:
    """For logs and pipes: no carriage returns, no escape codes, one line per epoch."""

    def __init__(self, stream: IO[str] | None = None, reproduce: str = "", width: int = 100):
        self.stream = stream or sys.stdout
        self.reproduce = reproduce
        self.line = ReproduceLine(reproduce)  # brought up to date by the run's events
        self.width = width
        self.ascii = wants_ascii(self.stream)
        self.test: Evaluation | None = None
        self.holdout: Holdout | None = None  # from the run's start: what chose the best epoch

    def _print(self, text: str = "", whole: bool = False) -> None:
        """Each line folded to the width (a log's reader should not scroll sideways), unless
        `whole`: a command to copy stays one line."""
        lines = text.split("\n") if whole else [part for line in text.split("\n") for part in fold(line, self.width)]
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()

    def handle(self, event: Event) -> None:
        self.line.note(event)
        if isinstance(event, RunStarted):
            self.holdout = Holdout.of(event)
            for line in _start_lines(event):
                self._print(line)
        elif isinstance(event, BatchProgress) and event.logged:
            self._print(batch_line(event))
        elif isinstance(event, EpochEnd):
            self._print(epoch_line(event))
        elif isinstance(event, Evaluation) and event.split == "test":
            self.test = event
        elif isinstance(event, LayerHealth):
            self._print(health_line(event))
        elif isinstance(event, HealthWarning):
            self._print(f"warning: {event.text}")
        elif isinstance(event, LrChanged):
            how = "as lr_changes says" if event.planned else "by hand"
            self._print(f"learning rate {event.previous:.3g} -> {event.lr:.3g} ({how}, epoch {event.epoch}, "
                        f"after batch {event.batch})")  # fmt: skip
        elif isinstance(event, (Paused, Resumed)):
            self._print(pause_line(event))
        elif isinstance(event, ThreadsChanged):
            self._print(f"CPU threads {event.previous} -> {event.threads} (auto, epoch {event.epoch}, after batch "
                        f"{event.batch}: {event.why})")  # fmt: skip
        elif isinstance(event, RunFinished):
            self._print()
            report = final_report(event, self.test, width=self.width, ascii=self.ascii, holdout=self.holdout)
            self._print(report.rstrip())
            self._footer(event)
        elif isinstance(event, RunFailed):
            self._print(failure_line(event, self.ascii), whole=True)  # it ends with the command that goes on
            if event.reason != "disk-full":
                self._footer(event)

    def _footer(self, end: RunFinished | RunFailed) -> None:
        if self.reproduce:
            self._print()
            self._print(self.line.text(end, self.ascii), whole=True)

    def close(self) -> None:
        pass


class RichPrinter(PlainPrinter):
    """For a terminal: a progress bar per epoch (samples/s, ETA) and a summary line per epoch."""

    def __init__(self, console=None, reproduce: str = ""):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.console = console or Console()
        super().__init__(stream=self.console.file, reproduce=reproduce, width=min(self.console.width, 150))
        self.ascii = not self.console.options.encoding.lower().startswith("utf")
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>8,.0f} img/s"),
            TextColumn("loss {task.fields[loss]:.4f}  acc {task.fields[acc]:.2%}"),
            TextColumn("{task.fields[left]}"),
            console=self.console,
            transient=True,
            auto_refresh=False,  # redraw on our own ticks: no extra thread beside the training
        )
        self.task: TaskID | None = None
        # What the time left is reckoned from (rich's own estimate would count a pause as slowness).
        self.run = RunProgress()

    def _print(self, text: str = "", whole: bool = False) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)  # the terminal wraps

    def handle(self, event: Event) -> None:
        self._pace(event)
        if isinstance(event, BatchProgress):
            if event.logged:  # printed above the live bar
                self.console.print(batch_line(event), markup=False, highlight=False)
            fields: dict[str, Any] = {
                "rate": event.samples_per_s,
                "loss": event.loss,
                "acc": event.accuracy,
                "left": self._left(event),
            }
            if self.task is None:
                self.progress.start()
                self.task = self.progress.add_task(
                    "train", total=event.batches, epoch=f"{event.epoch}/{event.epochs}", **fields
                )
            self.progress.update(self.task, completed=event.batch, refresh=True, **fields)
            return
        if isinstance(event, Paused) and self.task is not None:
            self.progress.update(self.task, left="paused", refresh=True)
        if isinstance(event, (EpochEnd, RunFinished, RunFailed)) and self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None
        if isinstance(event, (RunFinished, RunFailed)):
            # The task is usually gone already (removed at the last EpochEnd): stop the live
            # display regardless, or it is redrawn between the lines of the final report.
            self.progress.stop()
        if isinstance(event, EpochEnd):
            style = "bold green" if event.is_best else ""
            self.console.print(epoch_line(event), style=style, markup=False, highlight=False)
            return
        if isinstance(event, RunFailed):
            self.console.print(failure_line(event, self.ascii), style="bold red", markup=False, highlight=False)
            if event.reason != "disk-full":
                self._footer(event)
            return
        super().handle(event)

    def _pace(self, event: Event) -> None:
        self.run = self.run.apply(event)  # RunStarted brings the run's length and batch size

    def _left(self, event: BatchProgress) -> str:
        here = epoch_left(event, self.run.batch_size)
        run = self.run.time_left()
        gpu = f"  {words}" if (words := gpu_words(event)) else ""
        if self.console.width < 100:  # room for the bar and its counter first
            return f"ETA {clock(run)}{gpu}"
        return f"epoch {clock(here)} left, ETA {clock(run)}{gpu}"  # ETA: the run's end, as the app says

    def close(self) -> None:
        self.progress.stop()


def make_printer(reproduce: str = "", stream: TextIO | None = None) -> PlainPrinter:
    stream = stream or sys.stdout
    if stream.isatty():
        return RichPrinter(reproduce=reproduce)
    return PlainPrinter(stream, reproduce=reproduce, width=layout_width(30))


def run_headless(job) -> int:
    """Train `job` (a runs.launch.Job) printing its progress; Ctrl-C stops it saved. Exit code."""
    from mlp_tui.engine.control import Control
    from mlp_tui.runs.launch import NOT_STARTED, exit_code, launch
    from mlp_tui.runs.process import stop_on_signals

    printer = make_printer(reproduce=job.reproduce or "")
    control = Control()
    try:
        with stop_on_signals(control.stop) as received:
            result = launch(job, printer.handle, control)
            if getattr(result, "message", None) == NOT_STARTED:
                print(f"mlp-tui: interrupted {NOT_STARTED}; nothing was written", file=sys.stderr)
    finally:
        printer.close()
    return exit_code(result, 128 + received[0] if received else None)
