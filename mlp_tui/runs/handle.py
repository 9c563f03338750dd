"""The one surface a view steers a run through, whoever trains it: a child process the app
started (child.ChildRun), a run directory written by another process (follow.RunWatch: `watch`
and a comparison's member), or a test's fake. Declared, so that a screen's calls are checked
rather than hoped for.

Its commands are RunCommands, which the in-process engine.Control implements too: a run trained
in this process (headless) is steered through the same calls, and its events reach the view as
the engine emits them rather than through `events()`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mlp_tui.core.events import EndStatus, Event


@dataclass(frozen=True)
class RunStatus:
    """Not an engine event: a watcher's view of the run's process (running, stale, died...),
    which a handle following a run directory sends among the events."""

    status: str
    kind = "run_status"


class RunCommands(Protocol):
    """Commands in. They are requests: the loop honours them at its next batch."""

    @property
    def paused(self) -> bool: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def stop(self, reason: str = EndStatus.STOPPED) -> None: ...

    def set_lr(self, lr: float) -> None: ...

    def scale_lr(self, factor: float) -> None: ...


class RunHandle(RunCommands, Protocol):
    """Events out, commands in."""

    def events(self) -> Iterator[Event | RunStatus]:
        """The run's events from its start, then live ones, until the run ends or `close`."""
        ...

    def close(self) -> None:
        """Stop following; a live child run is asked to stop and save."""
        ...


if TYPE_CHECKING:
    from mlp_tui.engine.control import Control

    def _conforms(control: Control) -> RunCommands:
        return control  # mypy checks here that the in-process Control takes every command
