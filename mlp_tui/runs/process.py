"""Process plumbing shared by the entry points: the app's training child (child.py), the pool's
workers (compare/backends/worker.py), a comparison's driver (compare/driver.py) and the headless
commands (`run --headless`, `compare --headless`).

- A child that answers in JSON lines claims its stdout first: anything else that prints
  (torchvision's downloader) goes to stderr, where it cannot corrupt the protocol.
- Its parent talks to it on stdin. The end of stdin means the parent went away (even by
  kill -9): the child stops what it does, saved, as if told to.
- A stop signal (Ctrl-C, SIGTERM, a hang-up) stops the work in progress at its next batch,
  saved. Where a parent owns the keyboard, a Ctrl-C is the parent's to decide; where this
  process does, a second signal leaves at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import FrameType
from typing import IO, Any

from mlp_tui.core.events import EndStatus

STOP_SIGNALS: dict[int, str] = {signal.SIGINT: EndStatus.INTERRUPTED, signal.SIGTERM: EndStatus.TERMINATED}
if hasattr(signal, "SIGHUP"):
    STOP_SIGNALS[signal.SIGHUP] = EndStatus.HUNG_UP

Stop = Callable[[str], object]  # stops the work in progress, saved, for a reason ("terminated")
Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None  # what signal.signal takes


# -- the child's side -----------------------------------------------------------------------------
class JsonLines:
    """A protocol stream: one JSON object a line, flushed as written."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def send(self, message: Mapping[str, Any]) -> bool:
        """False if the line cannot be written: the reader is gone."""
        try:
            self.out.write(json.dumps(message) + "\n")
            self.out.flush()
            return True
        except (BrokenPipeError, OSError):
            return False


def claim_stdout() -> JsonLines:
    """The real stdout, for the protocol alone; file descriptor 1 and sys.stdout become stderr."""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return JsonLines(out)


def follow_stdin(
    on_line: Callable[[str], object], on_end: Callable[[], object], stream: Iterable[str] | None = None
) -> None:
    """On a daemon thread, each line of stdin (stripped) to `on_line`, then `on_end()` when it
    ends: the parent is gone, so the work in progress should stop, saved."""

    def listen() -> None:
        for line in sys.stdin if stream is None else stream:
            on_line(line.strip())
        on_end()

    threading.Thread(target=listen, daemon=True).start()


def on_stop_signals(stop: Stop, *, keyboard: bool = True) -> dict[int, Handler]:
    """Every stop signal calls `stop(reason)`; the handlers they replace, to put back. Without
    the `keyboard` (a parent owns it), Ctrl-C is ignored: a Ctrl-C there must not kill this
    process unsaved, while a hang-up or a polite kill still stops it cleanly."""
    previous: dict[int, Handler] = {}
    for sig, reason in STOP_SIGNALS.items():
        handler: Handler = _calling(stop, reason) if keyboard or sig != signal.SIGINT else signal.SIG_IGN
        previous[sig] = signal.signal(sig, handler)
    return previous


def _calling(stop: Stop, reason: str) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop(reason)

    return handler


@contextlib.contextmanager
def stop_on_signals(stop: Stop) -> Iterator[list[int]]:
    """For a process that owns the keyboard: Ctrl-C, SIGTERM or a hang-up calls `stop(reason)`;
    a second one leaves at once, exit 128 + signal (checkpoints are written atomically, so
    nothing is torn; a pool's workers see their pipe close and save their members). Yields the
    signals seen; the handlers before are put back after."""
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) > 1:
            os._exit(128 + signum)
        stop(STOP_SIGNALS.get(signum, EndStatus.INTERRUPTED))

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# -- the parent's side ----------------------------------------------------------------------------
def start_child(
    command: list[str], *, stderr: int, new_session: bool = False
) -> tuple[subprocess.Popen[str], IO[str], IO[str]]:
    """A child that talks in lines (text, line-buffered): the process, its stdin and its stdout.
    A `new_session` keeps a Ctrl-C at the terminal away from it (its parent decides)."""
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, bufsize=1,
        start_new_session=new_session,
    )  # fmt: skip
    # Popen leaves a stream None only where it is not a PIPE
    assert process.stdin is not None and process.stdout is not None
    return process, process.stdin, process.stdout


def send_line(stdin: IO[str], line: str) -> bool:
    """One line to a child; False if it has ended (there is nothing left to tell it)."""
    try:
        stdin.write(line + "\n")
        stdin.flush()
        return True
    except (BrokenPipeError, ValueError, OSError):
        return False


def close_quietly(stdin: IO[str]) -> None:
    """The end of a child's stdin: it stops its work, saved, and ends."""
    with contextlib.suppress(OSError):
        stdin.close()
