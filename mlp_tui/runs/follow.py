"""Follow a run directory written by another process: replay its metrics.jsonl, then tail it.

A RunHandle (handle.py), as child.ChildRun is (events, pause/resume/stop, paused, close), so the
training screen can show a live child or a run started headless on a server alike. Commands go
through the run's control file; watching itself never writes anything else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlp_tui.core.events import EndStatus, Event, from_dict
from mlp_tui.engine.control import parse_lr
from mlp_tui.runs.handle import RunStatus  # sent among the events; importable from here too
from mlp_tui.runs.layout import METRICS_FILE
from mlp_tui.runs.status import read_command, run_status, write_command
from mlp_tui.runs.store import MetricsTail

if TYPE_CHECKING:
    from mlp_tui.runs.handle import RunHandle

POLL_S = 0.25  # new lines show up within this (the issue asks for a second)
STATUS_EVERY_S = 1.0


class RunWatch:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self._closed = threading.Event()

    def events(self) -> Iterator[Event | RunStatus]:
        tail = MetricsTail(self.run_dir / METRICS_FILE)
        last: list[dict[str, Any]] = []  # only the newest record matters for the status
        last_status, since_status = None, STATUS_EVERY_S
        while not self._closed.is_set():
            new = tail.read()
            last = new[-1:] or last
            for record in new:
                try:
                    yield from_dict(record)
                except (KeyError, TypeError, ValueError):
                    continue
            since_status += POLL_S
            if new or since_status >= STATUS_EVERY_S:
                since_status = 0.0
                status = run_status(self.run_dir, last)
                if status != last_status:
                    last_status = status
                    yield RunStatus(status)
            self._closed.wait(POLL_S)

    def pause(self) -> None:
        write_command(self.run_dir, "pause")

    def resume(self) -> None:
        write_command(self.run_dir, "resume")

    def stop(self, reason: str = EndStatus.STOPPED) -> None:
        write_command(self.run_dir, "stop")

    def set_lr(self, lr: float) -> None:
        write_command(self.run_dir, f"lr {lr!r}")

    def scale_lr(self, factor: float) -> None:
        """The rate the run has when it reads this, times `factor`: this watcher's last word of
        the rate may be seconds old. A request the run has not read yet is scaled in place (the
        control file holds one command), so two quick presses of - make a quarter."""
        pending = read_command(self.run_dir) or ""
        lr = parse_lr(pending) if pending.startswith("lr ") else None
        if lr is None:
            write_command(self.run_dir, f"lr *{factor!r}")
        else:
            write_command(self.run_dir, f"lr {'*' if pending.startswith('lr *') else ''}{lr * factor!r}")

    @property
    def paused(self) -> bool:
        return read_command(self.run_dir) == "pause"

    def close(self) -> None:
        self._closed.set()


if TYPE_CHECKING:

    def _conforms(run: RunWatch) -> RunHandle:
        return run  # mypy checks here that RunWatch offers every call of RunHandle
