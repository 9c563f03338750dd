"""A pool worker: trains the jobs it is given, one after another, in one process (torch is
imported once, not per member).

    python -m mlp_tui.runs.compare.worker

- stdin: one `Job` JSON line per member; "stop" stops the member in progress (saved, resumable)
  and ends the worker.
  End of stdin (the driver went away, even by kill -9) stops it the same way, then the worker ends.
- stdout: one JSON line per member when it ends: {"path", "status", "test_accuracy", "message"}.
Events go only to each member's run directory, which is what every view reads.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading

from ...errors import exit_now

_STOP = object()


def main() -> int:
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything else that prints goes to stderr, never into the result lines
    sys.stdout = sys.stderr

    from ...engine.control import Control
    from ..job import Job
    from ..launch import STOP_SIGNALS, launch

    jobs: queue.Queue = queue.Queue()
    current = {"control": Control()}
    gone = threading.Event()

    def listen() -> None:
        for line in sys.stdin:
            line = line.strip()
            if line == "stop":  # the whole comparison stops: this member, and no more after it
                gone.set()
                current["control"].stop("stopped")
            elif line:
                jobs.put(line)
        gone.set()  # the driver is gone: save the member in progress and end
        current["control"].stop("stopped")
        jobs.put(_STOP)

    threading.Thread(target=listen, daemon=True).start()
    # The driver owns the keyboard and decides what a Ctrl-C means; a hang-up or a polite kill
    # stops this worker's member cleanly, like a headless run.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig, reason in STOP_SIGNALS.items():
        if sig != signal.SIGINT:
            signal.signal(sig, lambda signum, frame, reason=reason: (gone.set(), current["control"].stop(reason)))
    while not gone.is_set():
        line = jobs.get()
        if line is _STOP:
            break
        job = Job.from_json(line)
        if job.config.compile:
            import torch._dynamo

            torch._dynamo.reset()  # each member compiles afresh: no recompile limit across members
        current["control"] = control = Control()
        if gone.is_set():
            break
        try:
            result = launch(job, lambda event: None, control)
            answer = {"status": getattr(result, "status", "failed"), "test_accuracy": getattr(result, "test_accuracy", None),
                      "message": getattr(result, "message", "")}  # fmt: skip
        except (RuntimeError, ValueError) as exc:  # data, device, config, checkpoint: before training
            answer = {"status": "failed", "test_accuracy": None, "message": str(exc)}
        answer["path"] = str(job.run_dir or job.resume)
        try:
            out.write(json.dumps(answer) + "\n")
            out.flush()
        except (BrokenPipeError, OSError):
            break
    return 0


if __name__ == "__main__":
    exit_now(main())
