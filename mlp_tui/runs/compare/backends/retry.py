"""What the backends (pool.py, cluster.py) share about a member whose worker failed: where it
goes on from, whether it ended anyway, and the lines that say so. Those lines go to the
comparison's workers.log and to whoever drives it (`compare --headless` prints them).
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from mlp_tui.core.events import EndStatus
from mlp_tui.runs.compare.backends import MemberResult
from mlp_tui.runs.compare.plan import Member
from mlp_tui.runs.job import Job
from mlp_tui.runs.layout import LAST_CHECKPOINT
from mlp_tui.runs.status import summarize

WORKER_LOG = "workers.log"  # the workers' stderr and the driver's lines about them: never on the driver's screen
ENDED = (EndStatus.COMPLETED, EndStatus.EARLY_STOPPED, EndStatus.FAILED)


def continue_job(member: Member, job: Job) -> Job:
    """The member from where its directory got to: its last checkpoint, else afresh. Only for a
    member nothing trains now (its worker is known to be gone)."""
    if (member.path / LAST_CHECKPOINT).is_file():
        return dataclasses.replace(job, run_dir=None, resume=member.path)
    shutil.rmtree(member.path, ignore_errors=True)  # no checkpoint: nothing to keep
    return dataclasses.replace(job, run_dir=member.path, resume=None)


def ended_result(member: Member) -> MemberResult | None:
    """The member's result if its directory says it ended (its worker was lost after its last word)."""
    summary = summarize(member.path) if member.path.is_dir() else None
    if summary is None or summary.status not in ENDED:
        return None
    return MemberResult(member, summary.status, summary.test_accuracy)


class WorkerLog:
    """workers.log, opened for appending; workers may write their stderr to it too (fileno).
    `log(line)` adds a timestamped line; `tell=True` also hands it to `on_note`, for lines the
    user should see where they watch (a retry, a member given up)."""

    def __init__(self, folder: Path, on_note: Callable[[str], None] = lambda line: None) -> None:
        self.file = open(Path(folder) / WORKER_LOG, "ab", buffering=0)  # each line one append
        self.on_note = on_note
        self.lock = threading.Lock()  # lines come from several threads (cluster followers)

    def __call__(self, line: str, tell: bool = False) -> None:
        with self.lock:
            self.file.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n".encode())
            if tell:
                self.on_note(line)

    def again(self, name: str, why: str, job: Job, tries: int, max_tries: int) -> None:
        where = "its last checkpoint" if job.resume else "the start"
        self(f"{name}: {why}; trying again from {where} (try {tries} of {max_tries})", tell=True)

    def left(self, name: str, why: str) -> None:
        self(f"{name}: {why}; left for `compare --resume`", tell=True)

    def fileno(self) -> int:
        return self.file.fileno()

    def __enter__(self) -> WorkerLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()
