"""Messages that carry engine events from the training thread to the UI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from mlp_tui.core.events import BatchProgress, Event

if TYPE_CHECKING:
    from mlp_tui.runs.handle import RunStatus
    from mlp_tui.views.tui.board_view import BoardView


class EngineEvent(Message):
    """One engine event, posted from the worker thread (post_message is thread-safe)."""

    def __init__(self, event: Event | RunStatus) -> None:  # a watcher's RunStatus too
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        # A burst of progress collapses into the latest one; every other event is kept.
        return (
            isinstance(self.event, BatchProgress)
            and isinstance(message, EngineEvent)
            and isinstance(message.event, BatchProgress)
        )


class BoardChanged(Message):
    """A new snapshot of a comparison, posted from the board's worker thread."""

    def __init__(self, view: BoardView) -> None:
        super().__init__()
        self.view = view

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BoardChanged)  # only the newest snapshot matters
