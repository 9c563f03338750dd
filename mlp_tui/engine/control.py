"""Commands from a view to a running training loop: pause, resume, stop, "lr 0.01" (a new
learning rate from the next batch on) and "lr *0.5" (the rate the loop has then, times 0.5)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from mlp_tui.core.events import EndStatus, Event, Paused, Resumed


def parse_lr(command: str) -> float | None:
    """`lr 0.01` → 0.01 (and `lr *0.5` → 0.5); None for anything that is not a positive finite number."""
    try:
        value = float(command.split(None, 1)[1].removeprefix("*"))
    except (IndexError, ValueError):
        return None
    return value if 0 < value < float("inf") else None


class Control:
    """Thread-safe commands from a view to the loop, honoured at batch boundaries.

    `commands`, if given, is polled at most every POLL_S seconds for "pause", "resume" or
    "stop" (e.g. read from a run directory's control file by another process)."""

    POLL_S = 0.5

    def __init__(self, commands: Callable[[], str | None] | None = None) -> None:
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self.stop_reason: str = EndStatus.STOPPED
        self._commands: Callable[[], str | None] | None = None
        self.on_command: Callable[[str], None] | None = None
        self._last_poll = 0.0
        self._last_command: str | None = None
        self._lr_request: tuple[float, bool] | None = None  # (rate, or factor if True)
        self._lr_lock = threading.Lock()  # a key's factor joins a pending request whole
        self.asked_by: str | None = None  # who gave the last pause or resume: "app", "watcher"
        if commands is not None:
            self.set_commands(commands)

    def set_commands(self, commands: Callable[[], str | None]) -> None:
        self._commands = commands
        self._last_command = commands()  # whatever is there already is old news

    def poll(self) -> None:
        if self._commands is None:
            return
        now = time.monotonic()
        if now - self._last_poll < self.POLL_S:
            return
        self._last_poll = now
        command = self._commands()
        if command == self._last_command:
            return
        self._last_command = command
        self.apply(command, by="watcher")  # whoever wrote the control file: `watch`, another app

    def apply(self, command: str | None, by: str | None = None) -> None:
        """Carry out "pause", "resume" or "stop"; anything else is ignored. `by` is who asked."""
        if command == "pause":
            self.pause(by)
        elif command == "resume":
            self.resume(by)
        elif command == "stop":
            self.stop(EndStatus.STOPPED)
        elif command and command.startswith("lr "):
            lr = parse_lr(command)
            if lr is not None:
                self.scale_lr(lr) if command.startswith("lr *") else self.set_lr(lr)

    def set_lr(self, lr: float) -> None:
        """Ask for a new learning rate; the loop takes it at its next batch (take_lr)."""
        with self._lr_lock:
            self._lr_request = (lr, False)
        self._lr_asked()

    def scale_lr(self, factor: float) -> None:
        """Ask for the rate the loop has at its next batch, times `factor` (the - and + keys).
        Not a rate worked out by the view: a schedule moves the rate every batch, and a watcher's
        last word of it may be seconds old. Requests not yet taken multiply."""
        with self._lr_lock:
            value, relative = self._lr_request or (1.0, True)
            self._lr_request = (value * factor, relative)
        self._lr_asked()

    def _lr_asked(self) -> None:
        # The control file is also where other processes read whether the run is paused: put
        # the state back in place of a one-off request read from it (and only then, so that a
        # "stop" written there a moment ago is not overwritten before it is read).
        if self._commands is not None and (self._commands() or "").startswith("lr "):
            self._record("pause" if self.paused else "resume")

    def take_lr(self, current: float | None = None) -> float | None:
        """The learning rate asked for since the last call, if any (called by the loop, with
        its `current` rate, which a factor scales; a factor waits for a call that gives one)."""
        if self._lr_request is None:  # every batch: no lock for the usual answer
            return None
        with self._lr_lock:
            if self._lr_request is None:
                return None
            value, relative = self._lr_request
            if relative:
                if current is None:
                    return None
                value *= current
            self._lr_request = None
        return value

    def pause(self, by: str | None = None) -> None:
        self.asked_by = by
        self._running.clear()
        self._record("pause")

    def resume(self, by: str | None = None) -> None:
        self.asked_by = by
        self._running.set()
        self._record("resume")

    def stop(self, reason: str = EndStatus.STOPPED) -> None:
        if not self._stop.is_set():
            self.stop_reason = reason
        self._stop.set()
        self._running.set()

    def _record(self, command: str) -> None:
        """Write the state where other processes look (the run's control file), whoever asked:
        a run paused from the app then shows as paused to `runs` and `watch`, not stale."""
        if self._commands is None or self.on_command is None:
            return
        self._last_command = command
        try:
            self.on_command(command)
        except OSError:
            pass  # an unwritable run directory must not stop a pause

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wait_if_paused(self, emit: Callable[[Event], None] | None = None, epoch: int = 0, batch: int = 0) -> float:
        """Block while paused; return the seconds spent waiting. `emit` hears Paused as the wait
        begins and Resumed when a resume ends it (a stop ends the run instead): the run's events
        say when it really paused, not when a command was sent."""
        self.poll()
        if self._running.is_set():
            return 0.0
        if emit is not None:
            emit(Paused(epoch=epoch, batch=batch, by=self.asked_by))
        start = time.perf_counter()
        while not self._running.wait(0.1):
            self.poll()
        waited = time.perf_counter() - start
        if emit is not None and not self.stopped:
            emit(Resumed(epoch=epoch, batch=batch, seconds=round(waited, 3), by=self.asked_by))
        return waited
