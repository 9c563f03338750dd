"""For a widget that shows what it reads from a run's newest checkpoint (last.pt while the run
trains, best.pt after): the Weights and Draw tabs; the Predictions tab reads best.pt.

It reads on a worker thread (torch loads there, never on the UI thread), only while the widget
is shown, once per new checkpoint, and drops a read that a newer one overtook.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.message import Message
from textual.timer import Timer

if TYPE_CHECKING:
    from textual.widget import Widget

    _Host = Widget  # for the checker: what the mixin is mixed into
else:
    _Host = object

RELOAD_DELAY_S = 0.3  # a burst of epoch ends (a watcher replaying a run) reads once


class CheckpointRead(Message):
    def __init__(self, request: int, value: Any, error: str | None) -> None:
        super().__init__()
        self.request, self.value, self.error = request, value, error


class CheckpointFollower(_Host):
    """Mixed into a Widget. The widget provides `current` (what it shows, with a `.stamp`, or
    None), `read_checkpoint(run_dir, path)` (runs on the worker), `show_value(value)`,
    `show_note(text)`, `forget()` and the texts below."""

    waiting_note = "No checkpoint yet: it appears when the first epoch ends."

    # Read-only, so that a widget may give them as a class attribute or as a property.
    @property
    def reading_note(self) -> str:
        return "Reading {name} …"

    @property
    def failure(self) -> str:
        return "cannot read the checkpoint"

    if TYPE_CHECKING:  # what the widget provides (declared for the checker only: no defaults to shadow)

        @property
        def current(self) -> Any: ...

        def read_checkpoint(self, run_dir: Path, path: Path) -> Any: ...

        def show_value(self, value: Any) -> None: ...

        def show_note(self, text: str) -> None: ...

        def forget(self) -> None: ...

    def follow(self, run_dir: str | Path | None) -> None:
        """Call from __init__."""
        self.run_dir = Path(run_dir) if run_dir else None
        self._stale = self.run_dir is not None  # a newer checkpoint may be there, not yet read
        self._timer: Timer | None = None
        self._request = 0  # the newest read asked for: an older one finishing late is ignored

    def set_run(self, run_dir: str | Path | None) -> None:
        """The run directory to read (known once the run started); read when shown."""
        run_dir = Path(run_dir) if run_dir else None
        if run_dir == self.run_dir:
            return
        self.run_dir = run_dir
        self.forget()
        self._request += 1  # what is being read of another run is not wanted any more
        self.epoch_ended()

    def epoch_ended(self) -> None:
        """A new checkpoint may be there: read it (now if shown, else when shown)."""
        self._stale = True
        if self._timer is not None:
            self._timer.stop()
        if self.is_mounted:  # else on_show reads it
            self._timer = self.set_timer(RELOAD_DELAY_S, self._reload_if_shown)

    def on_show(self) -> None:
        self._reload_if_shown()

    def _reload_if_shown(self) -> None:
        if self._stale and self.run_dir is not None and self.is_mounted and self.is_on_screen:
            self._stale = False
            self._request += 1
            if self.current is None:
                self.show_note(self.reading_note.format(name=self.run_dir.name))
            self._read(self._request, self.run_dir, self.current.stamp if self.current else None)

    def checkpoint_for(self, run_dir: Path) -> Path:
        """Which checkpoint to read (on the worker): the newest; raises NoCheckpointYet."""
        from mlp_tui.runs.weights import newest_checkpoint

        return newest_checkpoint(run_dir)

    @work(thread=True, exclusive=True, group="checkpoint-read", exit_on_error=False)
    def _read(self, request: int, run_dir: Path, stamp) -> None:
        from mlp_tui.core.errors import DataError
        from mlp_tui.runs.store import CheckpointError
        from mlp_tui.runs.weights import NoCheckpointYet, stamp_of

        try:
            path = self.checkpoint_for(run_dir)
            if stamp is not None and stamp_of(path) == stamp:
                return  # the same checkpoint as shown
            self.post_message(CheckpointRead(request, self.read_checkpoint(run_dir, path), None))
        except NoCheckpointYet:
            self.post_message(CheckpointRead(request, None, self.waiting_note))
        except (CheckpointError, DataError) as exc:  # DataError: the test images the Predictions tab reads
            self.post_message(CheckpointRead(request, None, str(exc)))
        except Exception as exc:  # a view must not take the app down: say what happened
            self.post_message(CheckpointRead(request, None, f"{self.failure}: {type(exc).__name__}: {exc}"))

    def on_checkpoint_read(self, message: CheckpointRead) -> None:
        message.stop()
        if message.request != self._request:
            return  # overtaken by a newer read (of a newer checkpoint, or another run)
        if message.value is None:
            if self.current is None:  # keep showing what was read before over a passing problem
                self.show_note(message.error or "")
            return
        self.show_value(message.value)
