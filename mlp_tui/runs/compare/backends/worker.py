"""A pool worker: trains the jobs it is given, one after another, in one process (torch is
imported once, not per member).

    python -m mlp_tui.runs.compare.backends.worker

- stdin: one `Job` JSON line per member; "stop" stops the member in progress (saved, resumable)
  and ends the worker.
  End of stdin (the driver went away, even by kill -9) stops it the same way, then the worker ends.
- stdout: one JSON line per member when it ends: {"path", "status", "test_accuracy", "message",
  "reason"} (reason: the RunFailed reason of a failed member); and {"beat": 1} when it is ready,
  when it takes a job and, while the member trains, at most every BEAT_S: the driver's sign that
  it is alive and getting on (WorkerProcess.heard).
Events go only to each member's run directory, which is what every view reads.
WorkerProcess, at the end, is the driver's side of this pipe (pool.py).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlp_tui.core.errors import exit_now
from mlp_tui.core.events import EndStatus
from mlp_tui.runs.process import (
    JsonLines,
    claim_stdout,
    close_quietly,
    follow_stdin,
    on_stop_signals,
    send_line,
    start_child,
)

if TYPE_CHECKING:
    from mlp_tui.core.events import Event, RunFailed, RunFinished
    from mlp_tui.engine.control import Control
    from mlp_tui.runs.compare.backends.retry import WorkerLog
    from mlp_tui.runs.compare.plan import Member
    from mlp_tui.runs.job import Job

Answer = dict[str, Any]  # a worker's line to the driver (JSON)

_STOP = object()
BEAT_S = 1.0  # a fraction of the driver's allowance (pool.SILENT_S): one line a second is nothing
# How the driver starts a worker (a test starts one with a fault injected instead).
COMMAND = [sys.executable, "-m", "mlp_tui.runs.compare.backends.worker"]


def main() -> int:
    out = claim_stdout()  # the answers alone: a stray print goes to stderr

    from mlp_tui.engine.control import Control
    from mlp_tui.runs.job import Job
    from mlp_tui.runs.launch import launch

    jobs: queue.Queue[str | object] = queue.Queue()  # job lines, then _STOP
    current = {"control": Control()}
    gone = threading.Event()

    def stop(reason: str) -> None:
        """The member in progress stops (saved) for `reason`, and the worker ends."""
        gone.set()
        current["control"].stop(reason)

    def take(line: str) -> None:
        if line == "stop":  # the whole comparison stops: this member, and no more after it
            stop(EndStatus.STOPPED)
        elif line:
            jobs.put(line)

    def driver_gone() -> None:  # save the member in progress and end
        stop(EndStatus.STOPPED)
        jobs.put(_STOP)

    follow_stdin(take, driver_gone)
    # The driver owns the keyboard and decides what a Ctrl-C means; a hang-up or a polite kill
    # stops this worker's member cleanly, like a headless run.
    on_stop_signals(stop, keyboard=False)
    say = _Say(out)
    say.beat()  # ready: torch is imported
    while not gone.is_set():
        line = jobs.get()
        if not isinstance(line, str):  # _STOP
            break
        say.beat()
        job = Job.from_json(line)
        if job.config.compile:
            import torch._dynamo

            torch._dynamo.reset()  # each member compiles afresh: no recompile limit across members
        current["control"] = control = Control()
        if gone.is_set():
            break
        answer = _train(job, control, launch, say.progress)
        _release_memory()
        if not say(answer):
            break
    return 0


class _Say:
    """Lines to the driver on the worker's stdout. A line that cannot be written (the driver is
    gone) is dropped: end of stdin stops the worker then."""

    def __init__(self, out: JsonLines) -> None:
        self.out, self.last = out, 0.0

    def __call__(self, message: Answer) -> bool:
        return self.out.send(message)

    def beat(self) -> None:
        self.last = time.monotonic()
        self({"beat": 1})

    def progress(self, event: Event) -> None:
        """Every event the member emits (progress about 10 times a second while it trains)."""
        if time.monotonic() - self.last >= BEAT_S:
            self.beat()


def _train(
    job: Job,
    control: Control,
    launch: Callable[[Job, Callable[[Event], None], Control], RunFinished | RunFailed],
    emit: Callable[[Event], None],
) -> Answer:
    """Train one member; what to answer the driver."""
    from mlp_tui.engine.trainer import out_of_memory

    answer: Answer
    try:
        result = launch(job, emit, control)
        answer = {"status": result.status,
                  "test_accuracy": getattr(result, "test_accuracy", None),
                  "message": getattr(result, "message", ""), "reason": getattr(result, "reason", None)}  # fmt: skip
    except (RuntimeError, ValueError) as exc:  # data, device, config, checkpoint: before training
        # The data goes to the device before training: several members on one GPU can fill it there.
        reason = "out-of-memory" if out_of_memory(exc) else "error"
        answer = {"status": "failed", "test_accuracy": None, "message": str(exc), "reason": reason}
    answer["path"] = str(job.run_dir or job.resume)
    return answer


def _release_memory() -> None:
    """Hand the GPU memory the member's tensors held back to the device: another worker's member
    (or this member tried again after running out of it) may need it."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_initialized():
        torch.cuda.empty_cache()


class WorkerProcess:
    """The driver's side of a worker: jobs go to its stdin; its answers come on `results` as
    (worker, answer), then (worker, None) when the process ended. `heard` is when it last said
    anything (time.monotonic())."""

    def __init__(self, results: queue.Queue[tuple[WorkerProcess, Answer | None]], log: WorkerLog) -> None:
        # In a session of its own: a Ctrl-C at the terminal is the driver's to handle, not the workers'
        self.process, self._stdin, self._stdout = start_child(COMMAND, stderr=log.fileno(), new_session=True)
        self.pid = self.process.pid
        self.member: Member | None = None  # the Member it trains now, and its Job
        self.job: Job | None = None
        self.heard = time.monotonic()
        self.lost: str | None = None  # why the driver killed it
        threading.Thread(target=self._read, args=(results,), daemon=True).start()

    def _read(self, results: queue.Queue[tuple[WorkerProcess, Answer | None]]) -> None:
        for line in self._stdout:
            self.heard = time.monotonic()
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "beat" not in message:
                results.put((self, message))
        results.put((self, None))  # the process ended

    def send(self, line: str) -> bool:
        return send_line(self._stdin, line)

    def close(self) -> None:
        close_quietly(self._stdin)

    def kill(self, why: str) -> None:
        """Kill it and whatever it started (its session's process group); its stdout then ends."""
        self.lost = why
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def ended(self) -> str:
        """How the process ended, for a line: "pid 123 killed by SIGKILL"; waits for it to end."""
        code = self.process.wait()
        if self.lost:
            return f"pid {self.pid} {self.lost}"
        if code < 0:
            try:
                return f"pid {self.pid} killed by {signal.Signals(-code).name}"
            except ValueError:
                pass
        return f"pid {self.pid} exited with {code}"


if __name__ == "__main__":
    exit_now(main())
