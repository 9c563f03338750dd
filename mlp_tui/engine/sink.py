"""What the trainer saves through: the run store implements it, so the engine never imports
the storage code (and a test, a benchmark or a remote worker can stand in its own)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mlp_tui.core.events import Event

if TYPE_CHECKING:
    from mlp_tui.core.config import RunConfig


class RunSink(Protocol):
    """Writes that fail for a full or read-only disk raise errors.DiskFullError, whose text says
    which file, what is kept and how to go on: the trainer ends the run with it, saving no more."""

    location: Path  # where users find the run, named in its first event

    def append(self, event: Event) -> None:
        """Record one event (the run's story, in order)."""

    def save_checkpoint(self, kind: Literal["best", "last"], state: dict[str, Any]) -> None:
        """Keep a checkpoint atomically: a crash leaves the old one or the new one."""

    def write_config(self, config: RunConfig, preset: str) -> None:
        """Replace the run's recorded config atomically: a learning rate changed by
        hand joins it as it happens."""

    def write_error(self, text: str) -> None:
        """Keep the traceback of a fault that ended the run."""
