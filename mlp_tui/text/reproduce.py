"""The `Reproduce with` line that ends a run's output and its report.txt: the command, made at
the start, brought up to date by the run's events. Learning rates changed by hand join it as
`--lr-changes`, and a run that ended before its last epoch says which epochs the command covers.
"""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

from mlp_tui.core.config import RunConfig, build_config
from mlp_tui.core.events import EndStatus, Event, LrChanged, RunFailed, RunFinished, RunStarted
from mlp_tui.core.lr_changes import LrChange, format_lr_changes, parse_lr_changes, with_change
from mlp_tui.core.run_files import CONFIG_FILE

# How a run that ended before its last epoch ended, in words (RunFinished.status).
ENDED: dict[str, str] = {
    EndStatus.STOPPED: "it was stopped", EndStatus.INTERRUPTED: "it was interrupted",
    EndStatus.TERMINATED: "it was terminated", EndStatus.HUNG_UP: "its terminal hung up",
}  # fmt: skip


class ReproduceLine:
    """Follows a run's events; `text(end)` is its reproduce line. `command` is the line made at
    the start (for its config then); when it reruns the run's own config.toml, that file
    records the changes made by hand itself."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.start: RunConfig | None = None
        self.config: RunConfig | None = None  # as it stands: with the changes made by hand
        self.own_config: Path | None = None

    def note(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.start = self.config = build_config(event.config)
            self.own_config = Path(event.run_dir) / CONFIG_FILE if event.run_dir else None
        elif isinstance(event, LrChanged) and not event.planned and self.config is not None:
            changes = with_change(self.config.lr_changes, event.epoch, event.batch, event.lr)
            self.config = dataclasses.replace(self.config, lr_changes=changes)  # as the trainer records it

    def text(self, end: RunFinished | RunFailed, ascii: bool = False) -> str:
        config, start = self.config, self.start
        if config is None or start is None:
            return f"Reproduce with: {self.command}"
        words = shlex.split(self.command)
        covered, note = _coverage(end, config, ascii)
        wanted = tuple(c for c in config.lr_changes if covered is None or c[0] <= covered)
        if covered is not None:
            words = _with_flag(words, "--epochs", str(covered))
        if wanted != self._given(words, start, config):
            words = _with_flag(words, "--lr-changes", format_lr_changes(wanted))
        command = self.command if words == shlex.split(self.command) else shlex.join(words)
        return f"Reproduce with{note}: {command}"

    def _given(self, words: list[str], start: RunConfig, config: RunConfig) -> tuple[LrChange, ...]:
        """The changes the command's words give as they stand: its --lr-changes, else its preset's
        (the run's own config.toml records what this run did; any other, the config at the start)."""
        if "--lr-changes" in words[:-1]:
            return parse_lr_changes(words[words.index("--lr-changes") + 1])
        preset = words[words.index("--preset") + 1] if "--preset" in words[:-1] else None
        ours = preset is not None and self.own_config is not None and Path(preset) == self.own_config
        return (config if ours else start).lr_changes


def _coverage(end: RunFinished | RunFailed, config: RunConfig, ascii: bool) -> tuple[int | None, str]:
    """For a run that ended early: the epoch count that gives its numbers again (None: the
    command as it is) and the words that say so."""
    if not isinstance(end, RunFinished) or end.status == EndStatus.COMPLETED:
        return None, ""
    done, epochs, dash = end.epochs_done, config.epochs, "-" if ascii else "–"
    span = f"epoch 1 of {epochs}" if done == 1 else f"epochs 1{dash}{done} of {epochs}"
    if end.status == EndStatus.EARLY_STOPPED:
        return None, f" ({span}; it stopped early, and so will this)"
    how = ENDED.get(end.status, f"it ended {end.status}")
    if done == 0:
        return None, f" ({how} in epoch 1 of {epochs}, before any epoch ended; this trains all {epochs})"
    if config.schedule != "none":  # the schedule's rates depend on the epoch count: keep it
        return None, f" ({span}; {how}; this trains all {epochs}, the first {'' if done == 1 else f'{done} '}alike)"
    return done, f" ({span}; {how})"


def _with_flag(words: list[str], flag: str, value: str) -> list[str]:
    """`words` with `flag value` in place of the flag's old value, or added at the end."""
    words = list(words)
    if flag in words[:-1]:
        words[words.index(flag) + 1] = value
    else:
        words += [flag, value]
    return words
