"""Runs one training job in its own process and streams its events as JSON lines.

The app trains through this rather than in a thread of its own process: PyTorch's CPU kernels
run about a third slower when driven from a non-main thread on a small machine (measured in
benchmarks/tui_vs_headless.py), and a separate process also keeps a crash in native code from
taking the UI down. The protocol is the one metrics.jsonl already uses:

- parent -> child, stdin: one JSON job line, then commands: "pause", "resume", "stop", "lr 0.01",
  "lr *0.5" (engine/control.py).
  End of stdin (the parent went away) stops the run the same way, so it is saved.
- child -> parent, stdout: one `Event.to_dict()` JSON line per event.

    python -m mlp_tui.runs.child
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mlp_tui.core.config import RunConfig
from mlp_tui.core.errors import DataError, exit_now
from mlp_tui.core.events import EndStatus, Event, RunFailed, from_dict
from mlp_tui.runs.process import claim_stdout, close_quietly, follow_stdin, on_stop_signals, send_line, start_child

if TYPE_CHECKING:
    from mlp_tui.runs.handle import RunHandle

# Progress events a second the app gets. Every wake-up of the UI process costs the training
# process more than its share of CPU on a small machine (its thread team waits at barriers
# for a descheduled thread), so the bar moves 4 times a second rather than 10.
PROGRESS_INTERVAL = 0.25


def main() -> int:
    events = claim_stdout()  # the events alone: a stray print goes to stderr

    def emit(event: Event) -> None:
        if not events.send(event.to_dict()):
            control.stop(EndStatus.STOPPED)  # the app is gone: finish the batch, save, end

    from mlp_tui.engine.control import Control
    from mlp_tui.runs.job import Job
    from mlp_tui.runs.launch import NOT_STARTED, launch

    control = Control()
    job = Job.from_json(sys.stdin.readline())
    # Commands from the app; its end (the app gone) stops the run: finish the batch, save, end.
    follow_stdin(lambda line: control.apply(line, by="app"), lambda: control.stop(EndStatus.STOPPED))
    # The app owns the keyboard; a hang-up (the SSH session dropped) or a polite kill stops the
    # run cleanly, like in a headless run.
    on_stop_signals(control.stop, keyboard=False)
    try:
        result = launch(job, emit, control, progress_interval=PROGRESS_INTERVAL)
    except (RuntimeError, ValueError) as exc:  # DataError, DeviceError, ConfigError, CheckpointError
        emit(RunFailed(reason="data" if isinstance(exc, DataError) else "error", message=str(exc)))
        return 2
    except OSError as exc:  # the runs folder cannot be made (full, read-only): said, not a traceback
        emit(RunFailed(reason="error", message=f"{exc.filename or 'runs folder'}: {exc.strerror or exc}"))
        return 2
    if getattr(result, "message", None) == NOT_STARTED:
        emit(result)  # stopped before training: the app hears the end all the same
    return 0


def _history(run_dir: Path) -> list[Event]:
    from mlp_tui.runs.layout import METRICS_FILE
    from mlp_tui.runs.store import read_events

    path = Path(run_dir) / METRICS_FILE
    events: list[Event] = []
    for record in read_events(path):
        kind = record.get("event")
        if kind in ("batch_progress", "run_finished", "run_failed") or record.get("split") == "test":
            continue
        try:
            events.append(from_dict(record))
        except (KeyError, TypeError, ValueError):
            continue
    return events


class ChildRun:
    """The parent's handle on a training child: start it, read its events, send commands.

    A RunHandle (handle.py), as follow.RunWatch is, so a view can steer either."""

    def __init__(
        self, config: RunConfig, preset: str, data_dir: Path | None, runs_root: Path, resume: Path | None = None
    ) -> None:
        self.process, self._stdin, self._stdout = start_child(
            [sys.executable, "-m", "mlp_tui.runs.child"], stderr=subprocess.PIPE
        )
        assert self.process.stderr is not None  # a PIPE
        self._stderr_pipe = self.process.stderr
        self._paused = False
        self._lock = threading.Lock()
        self._stderr: list[str] = []
        # A resumed run's story so far, read before the child can add to it: the charts and
        # tables pick up where the run left off. Old endings and progress are left out.
        self._history = _history(resume) if resume is not None else []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        from mlp_tui.runs.job import Job

        self._send(Job(config, preset, data_dir, runs_root, resume=resume).to_json())

    def _drain_stderr(self) -> None:
        for line in self._stderr_pipe:
            self._stderr = [*self._stderr, line.rstrip()][-30:]

    def _send(self, line: str) -> None:
        with self._lock:
            send_line(self._stdin, line)  # False once the child has ended: nothing left to control

    def pause(self) -> None:
        self._paused = True
        self._send("pause")

    def resume(self) -> None:
        self._paused = False
        self._send("resume")

    def stop(self, reason: str = EndStatus.STOPPED) -> None:
        self._paused = False
        self._send("stop")

    def set_lr(self, lr: float) -> None:
        """A new learning rate from the next batch on (the run reports it as an LrChanged event)."""
        self._send(f"lr {lr!r}")

    def scale_lr(self, factor: float) -> None:
        """The rate the run has at its next batch, times `factor` (the run reports it as LrChanged)."""
        self._send(f"lr *{factor!r}")

    @property
    def paused(self) -> bool:
        return self._paused

    def events(self) -> Iterator[Event]:
        """Events as the child emits them; a final RunFailed if it died without a last word."""
        yield from self._history
        last: Event | None = None
        for line in self._stdout:
            try:
                last = from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue
            yield last
        code = self.process.wait()
        if last is None or last.kind not in ("run_finished", "run_failed"):
            tail = "\n".join(self._stderr[-5:]) or "no output"
            yield RunFailed(reason="error", message=f"the training process ended unexpectedly (exit {code}): {tail}")

    def close(self) -> None:
        close_quietly(self._stdin)


if TYPE_CHECKING:

    def _conforms(run: ChildRun) -> RunHandle:
        return run  # mypy checks here that ChildRun offers every call of RunHandle


if __name__ == "__main__":
    exit_now(main())
