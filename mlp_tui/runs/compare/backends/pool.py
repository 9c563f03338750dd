"""Runs a comparison's members on a local pool of worker processes.

Each worker (compare/worker.py) is a long-lived process that trains the jobs it is given one
after another; the driver hands the next member to whichever worker finishes first. A member
that is already finished is skipped, one with a last.pt is resumed from it, so the same call
finishes a comparison that a crash, Ctrl-C or kill -9 left.

Within one call, a member whose worker failed in a way that can pass (killed, out of memory,
silent past SILENT_S: hung or stopped) is tried once more from its last checkpoint, with a line
in workers.log and to the driver (as cluster.py does on Ray); nan and data failures would only
fail again.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from mlp_tui.core.config import build_config
from mlp_tui.core.events import EndStatus
from mlp_tui.runs.compare.backends import MemberResult
from mlp_tui.runs.compare.backends.retry import WorkerLog, continue_job, ended_result
from mlp_tui.runs.compare.backends.worker import Answer, WorkerProcess
from mlp_tui.runs.compare.plan import Member
from mlp_tui.runs.job import Job
from mlp_tui.runs.layout import LAST_CHECKPOINT, PROCESS_FILE, read_owner
from mlp_tui.runs.status import STALE_S, failed_for_disk, run_status

POOL_TRIES = 2  # a member whose worker failed in a way that can pass is tried once more
SILENT_S = STALE_S  # a worker silent this long (its member not paused) is lost: `runs` calls it stale then


def default_jobs(device: str, members: int) -> int:
    """Parallel members: on a CPU the cores are divided (one thread each at least, never more
    members than cores); a GPU is shared by a few (one MLP uses a fraction of it)."""
    cores = os.cpu_count() or 1
    if device.startswith(("cuda", "mps")) or (device == "auto" and _has_gpu()):
        return max(1, min(members, 4, cores))
    return max(1, min(members, cores))


def threads_per_job(jobs: int) -> int:
    return max(1, (os.cpu_count() or 1) // jobs)


def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available() or (hasattr(torch.backends, "mps") and torch.backends.mps.is_available())


def member_job(member: Member, data_dir: Path | None, threads: int, device: str | None = None) -> Job | None:
    """What to do for a member: nothing (it finished, or failed for good), continue it from its
    last.pt, or start it (afresh, if an earlier try died before its first checkpoint)."""
    config = member.config if device is None else build_config({"device": device}, base=member.config)
    path = member.path
    if path.is_dir():
        status = run_status(path)
        failed_for_good = status == "failed" and not failed_for_disk(path)
        if EndStatus.trained(status) or failed_for_good or _trained_elsewhere(path):
            return None
        if (path / LAST_CHECKPOINT).is_file():
            return Job(config, member.variant.preset, data_dir, path.parent, resume=path, threads=threads)
        shutil.rmtree(path)  # no checkpoint: nothing to keep
    return Job(config, member.variant.preset, data_dir, path.parent, run_dir=path, threads=threads)


def _trained_elsewhere(path: Path, done_with: int | None = None) -> bool:
    """A member whose process is still alive here (a driver killed a moment ago leaves its
    workers saving): never started twice, never deleted under them. `done_with`: a live worker
    known to have finished with it (it answered)."""
    owner = read_owner(path / PROCESS_FILE)
    return owner is not None and owner.alive(besides=(os.getpid(), done_with))


class LocalPool:
    """The Backend that trains members on worker processes of this machine."""

    def __init__(self, jobs: int | None = None, device: str = "cpu") -> None:
        self.jobs, self.device = jobs, device

    def start(self, members: int) -> tuple[int, str]:
        # The cores are divided between the workers that will actually start.
        self.jobs = max(1, min(self.jobs or default_jobs(self.device, members), members))
        threads = threads_per_job(self.jobs)
        return threads, (f"on {self.jobs} worker process{'es' if self.jobs > 1 else ''}, "
                         f"{threads} CPU thread{'s' if threads > 1 else ''} each")  # fmt: skip

    def check_data(self, datasets: list[str], data_dir: Path | None) -> None:
        from mlp_tui.engine.data import ensure_dataset

        for dataset in datasets:
            ensure_dataset(dataset, data_dir)

    def run(
        self,
        todo: list[tuple[Member, Job]],
        folder: Path,
        on_done: Callable[[MemberResult], None],
        should_stop: Callable[[], bool],
        on_note: Callable[[str], None] = lambda line: None,
    ) -> list[MemberResult]:
        return run_pool(todo, self.jobs or 1, folder, on_done, should_stop, on_note)


def run_pool(
    todo: list[tuple[Member, Job]],
    jobs: int,
    folder: Path,
    on_done: Callable[[MemberResult], None],
    should_stop: Callable[[], bool] = lambda: False,
    on_note: Callable[[str], None] = lambda line: None,
) -> list[MemberResult]:
    """Train the members on `jobs` worker processes; `on_done` hears each one as it ends, and
    `on_note` each line about a member tried again. When `should_stop()` turns true, members in
    progress stop (saved, resumable) and no more start."""
    with WorkerLog(folder, on_note) as log:
        return _PoolRun(todo, jobs, log, on_done, should_stop).run()


class _PoolRun:
    """One run of the pool: hands members to workers as they come free. A member whose worker
    died, went silent or ran out of memory is tried once more, from its last checkpoint."""

    def __init__(
        self,
        todo: list[tuple[Member, Job]],
        jobs: int,
        log: WorkerLog,
        on_done: Callable[[MemberResult], None],
        should_stop: Callable[[], bool],
    ) -> None:
        self.pending = deque(todo)
        self.tries = {member.path: 1 for member, _ in todo}
        self.log, self.on_done, self.should_stop = log, on_done, should_stop
        self.results: queue.Queue[tuple[WorkerProcess, Answer | None]] = queue.Queue()
        self.workers = [WorkerProcess(self.results, log) for _ in range(min(jobs, len(todo)))]
        self.done: list[MemberResult] = []
        self.stopping = False

    def run(self) -> list[MemberResult]:
        try:
            for worker in self.workers:
                self.dispatch(worker)
            while any(w.member is not None for w in self.workers):
                heard: tuple[WorkerProcess, Answer | None] | None
                try:
                    heard = self.results.get(timeout=0.25)
                except queue.Empty:
                    heard = None
                if not self.stopping and self.should_stop():
                    self.stopping = True
                    for w in self.workers:
                        w.send("stop")
                self.check_silence()
                if heard is not None and heard[0].member is not None:  # else: an idle worker ending
                    self.hear(*heard)
        finally:
            self.close()
        return self.done

    def dispatch(self, worker: WorkerProcess) -> None:
        if self.pending and not self.stopping:
            worker.member, worker.job = self.pending.popleft()
            worker.heard = time.monotonic()  # an idle worker says nothing: its silence counts from now
            if worker.send(worker.job.to_json()):
                return
            self.pending.appendleft((worker.member, worker.job))
        worker.member = None
        worker.close()

    def hear(self, worker: WorkerProcess, answer: Answer | None) -> None:
        member, job = worker.member, worker.job
        assert member is not None and job is not None  # run() hears only a worker with a member
        if answer is not None:
            result = self.answered(worker, member, job, answer)
        else:  # the worker died under its member (killed, out of memory, silent too long)
            result = self.lost(worker, member, job)
            worker.member = None
            if self.pending and not self.stopping:
                worker = WorkerProcess(self.results, self.log)
                self.workers.append(worker)
        if result is not None:  # None: tried again, it is back in the queue
            self.done.append(result)
            self.on_done(result)
        self.dispatch(worker)

    def answered(self, worker: WorkerProcess, member: Member, job: Job, answer: Answer) -> MemberResult | None:
        if answer.get("reason") == "out-of-memory":
            # At the back of the queue: members that finish meanwhile free the memory it needs.
            if self.again(member, job, f"ran out of memory (worker pid {worker.pid})", False, worker.pid):
                return None
        return MemberResult(member, answer["status"], answer.get("test_accuracy"), answer.get("message", ""))

    def lost(self, worker: WorkerProcess, member: Member, job: Job) -> MemberResult | None:
        why = worker.ended()  # ended() waits: the process is gone after it
        result = ended_result(member)
        if result is not None:  # lost after its last word reached its directory
            return result
        if self.again(member, job, f"worker lost ({why})", front=True):
            return None
        self.log.left(member.path.name, f"worker lost ({why})")
        tries = self.tries[member.path]
        return MemberResult(member, "died", None, f"worker lost {tries} time{'s' if tries > 1 else ''}: {why}")

    def again(self, member: Member, job: Job, why: str, front: bool, done_with: int | None = None) -> bool:
        """Queue the member once more, from its last checkpoint, if it has a try left and no
        process but `done_with` (its worker, which answered) owns it."""
        tries = self.tries[member.path]
        if self.stopping or tries >= POOL_TRIES or _trained_elsewhere(member.path, done_with):
            return False
        self.tries[member.path] = tries + 1
        job = continue_job(member, job)
        self.log.again(member.path.name, why, job, tries + 1, POOL_TRIES)
        (self.pending.appendleft if front else self.pending.append)((member, job))
        return True

    def check_silence(self) -> None:
        """A worker silent past SILENT_S is killed (and its member tried again when its stdout
        ends); a member paused by the user is silent on purpose."""
        now = time.monotonic()
        for worker in self.workers:
            if worker.member is None or worker.lost or now - worker.heard <= SILENT_S:
                continue
            if run_status(worker.member.path) == "paused":
                worker.heard = now  # after a resume it has the whole allowance again
                continue
            worker.kill(f"silent for {now - worker.heard:.0f} s, killed")

    def close(self) -> None:
        for w in self.workers:
            w.close()
        for w in self.workers:
            try:
                w.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                w.process.kill()
