"""The one surface a view steers a run through, whoever trains it: a child process the app
started (child.ChildRun), a run directory written by another process (follow.RunWatch), or a
test's fake. Declared, so that a screen's calls are checked rather than hoped for."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from mlp_tui.core.events import EndStatus, Event


@dataclass(frozen=True)
class RunStatus:
    """Not an engine event: a watcher's view of the run's process (running, stale, died...),
    which a handle following a run directory sends among the events."""

    status: str
    kind = "run_status"


class RunHandle(Protocol):
    """Events out, commands in. Commands are requests: the loop honours them at its next batch."""

    @property
    def paused(self) -> bool: ...

    def events(self) -> Iterator[Event | RunStatus]:
        """The run's events from its start, then live ones, until the run ends or `close`."""
        ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def stop(self, reason: str = EndStatus.STOPPED) -> None: ...

    def set_lr(self, lr: float) -> None: ...

    def scale_lr(self, factor: float) -> None: ...

    def close(self) -> None:
        """Stop following; a live child run is asked to stop and save."""
        ...
