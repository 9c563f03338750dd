"""One member trained on a cluster worker, as a stream of messages to the driver:

    {"started": {"host", "pid"}}          where it trains (said once, first)
    {"files": [FileChange, ...]}          what its run directory wrote since the last message
    {"result": {"status", "test_accuracy", "message"}}   last; None if it never started

The member trains in a scratch copy of its directory (sent along, so a retried member continues
from its last checkpoint) and is told commands by `commands()`, polled between messages. No
cluster library here: ray_cluster.py wraps this generator as a task, and tests run it in-process.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlp_tui.core.events import EndStatus
from mlp_tui.runs.compare.backends.streaming import DirectoryWatch
from mlp_tui.runs.job import Job
from mlp_tui.runs.status import write_command

if TYPE_CHECKING:
    from mlp_tui.engine.control import Control

SYNC_S = 0.5  # how often the scratch copy is looked at: a live chart needs no more
STOP = "stop"  # the comparison stops: this member saves and ends, and none starts


def stream_member(job: Job, files: dict[str, bytes], commands: Callable[[], str | None]) -> Iterator[dict[str, Any]]:
    if commands() == STOP:
        yield {"result": None}
        return
    yield {"started": {"host": socket.gethostname(), "pid": os.getpid()}}
    from mlp_tui.engine.control import Control
    from mlp_tui.runs.launch import NOT_STARTED

    target = job.resume or job.run_dir
    if target is None:  # a comparison's members always name their directory (pool.member_job)
        raise ValueError("a cluster member's job names no run directory")
    with tempfile.TemporaryDirectory(prefix="mlp-tui-") as scratch:
        local = Path(scratch) / target.name
        local.mkdir()
        for name, data in files.items():
            (local / Path(name).name).write_bytes(data)
        watch = DirectoryWatch(local)
        job = dataclasses.replace(
            job, runs_root=Path(scratch), run_dir=local if job.run_dir else None, resume=local if job.resume else None,
            copy_of=target,
        )  # fmt: skip
        control = Control()
        result: dict[str, Any] = {}
        thread = threading.Thread(target=_train, args=(job, control, result), daemon=True)
        thread.start()
        try:
            while thread.is_alive():
                thread.join(SYNC_S)
                command = commands()
                if command == STOP:
                    control.stop(EndStatus.STOPPED)
                elif command:
                    write_command(local, command)  # the run polls its control file, as at home
                changes = watch.changes()
                if changes:
                    yield {"files": changes}
            changes = watch.changes()
            if changes:
                yield {"files": changes}
        finally:  # the driver let go of the stream: stop the member saved before the scratch goes
            control.stop(EndStatus.STOPPED)
            thread.join()
    # Stopped before it began (while its data loaded): as if it had never been handed out.
    yield {"result": None if result.get("message") == NOT_STARTED else result}


def _train(job: Job, control: Control, result: dict[str, Any]) -> None:
    from mlp_tui.runs.launch import launch

    try:
        ended = launch(job, lambda event: None, control)
        result.update(status=ended.status, test_accuracy=getattr(ended, "test_accuracy", None),
                      message=getattr(ended, "message", ""))  # fmt: skip
    except (RuntimeError, ValueError) as exc:  # data, device, config, checkpoint: before training
        result.update(status="failed", test_accuracy=None, message=str(exc))
