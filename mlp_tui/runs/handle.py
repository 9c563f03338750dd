"""The one surface a view steers a run through, whoever trains it: a child process the app
started (child.ChildRun), a run directory written by another process (follow.RunWatch), or a
test's fake. Declared, so that a screen's calls are checked rather than hoped for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from mlp_tui.core.events import Event

if TYPE_CHECKING:
    from mlp_tui.runs.follow import RunStatus


class RunHandle(Protocol):
    """Events out, commands in. Commands are requests: the loop honours them at its next batch."""

    @property
    def paused(self) -> bool: ...

    def events(self) -> Iterator[Event | RunStatus]:
        """The run's events from its start, then live ones, until the run ends or `close`."""
        ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def stop(self, reason: str = "stopped") -> None: ...

    def set_lr(self, lr: float) -> None: ...

    def scale_lr(self, factor: float) -> None: ...

    def close(self) -> None:
        """Stop following; a live child run is asked to stop and save."""
        ...
