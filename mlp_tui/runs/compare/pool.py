"""Runs a comparison's members on a local pool of worker processes.

Each worker (compare/worker.py) is a long-lived process that trains the jobs it is given one
after another; the driver hands the next member to whichever worker finishes first. A member
that is already finished is skipped, one with a last.pt is resumed from it, so the same call
finishes a comparison that a crash, Ctrl-C or kill -9 left.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable

from ...config import build_config
from ..job import Job
from ..status import pid_alive, read_process_file, run_status
from ..store import atomic_write_bytes
from .backend import MemberResult
from .plan import DRIVER_FILE, Member

STOP_FILE = "control"  # "stop" in it: the driver stops its members (saved) and starts no more
WORKER_LOG = "workers.log"  # the workers' stderr: never on the driver's screen


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
        if status in ("completed", "early-stopped", "failed") or _trained_elsewhere(path):
            return None
        if (path / "last.pt").is_file():
            return Job(config, member.variant.preset, data_dir, path.parent, resume=path, threads=threads)
        shutil.rmtree(path)  # no checkpoint: nothing to keep
    return Job(config, member.variant.preset, data_dir, path.parent, run_dir=path, threads=threads)


def _trained_elsewhere(path: Path) -> bool:
    """A member whose process is still alive here (a driver killed a moment ago leaves its
    workers saving): never started twice, never deleted under them."""
    info = read_process_file(path) or {}
    return info.get("host") == socket.gethostname() and pid_alive(int(info.get("pid", -1))) and info.get("pid") != os.getpid()


def write_driver_file(folder: Path) -> None:
    info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    atomic_write_bytes(Path(folder) / DRIVER_FILE, json.dumps(info).encode())


def driver_alive(folder: Path) -> bool:
    try:
        info = json.loads((Path(folder) / DRIVER_FILE).read_text())
    except (OSError, ValueError):
        return False
    return info.get("host") == socket.gethostname() and pid_alive(int(info.get("pid", -1)))


def request_stop(folder: Path) -> None:
    atomic_write_bytes(Path(folder) / STOP_FILE, b"stop\n")


def stop_requested(folder: Path) -> bool:
    try:
        return (Path(folder) / STOP_FILE).read_text().strip() == "stop"
    except OSError:
        return False


class _Worker:
    def __init__(self, results: queue.Queue, log) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlp_tui.runs.compare.worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1,
            start_new_session=True,  # a Ctrl-C at the terminal is the driver's to handle, not the workers'
        )  # fmt: skip
        self.member: Member | None = None
        threading.Thread(target=self._read, args=(results,), daemon=True).start()

    def _read(self, results: queue.Queue) -> None:
        for line in self.process.stdout:
            try:
                results.put((self, json.loads(line)))
            except ValueError:
                continue
        results.put((self, None))  # the process ended

    def send(self, line: str) -> bool:
        try:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def close(self) -> None:
        try:
            self.process.stdin.close()
        except (BrokenPipeError, OSError):
            pass


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
        from ...engine.data import ensure_dataset

        for dataset in datasets:
            ensure_dataset(dataset, data_dir)

    def run(self, todo, folder, on_done, should_stop) -> list[MemberResult]:
        return run_pool(todo, self.jobs or 1, folder, on_done, should_stop)


def run_pool(
    todo: list[tuple[Member, Job]],
    jobs: int,
    folder: Path,
    on_done: Callable[[MemberResult], None],
    should_stop: Callable[[], bool] = lambda: False,
) -> list[MemberResult]:
    """Train the members on `jobs` worker processes; `on_done` hears each one as it ends.
    When `should_stop()` turns true, members in progress stop (saved, resumable) and no more start."""
    results: queue.Queue = queue.Queue()
    pending = deque(todo)
    done: list[MemberResult] = []
    stopping = False
    with open(Path(folder) / WORKER_LOG, "ab") as log:
        workers = [_Worker(results, log) for _ in range(min(jobs, len(todo)))]

        def dispatch(worker: _Worker) -> None:
            if pending and not stopping:
                member, job = pending.popleft()
                worker.member = member
                if worker.send(job.to_json()):
                    return
                pending.appendleft((member, job))
            worker.member = None
            worker.close()

        for worker in workers:
            dispatch(worker)
        try:
            while any(w.member is not None for w in workers):
                try:
                    worker, answer = results.get(timeout=0.25)
                except queue.Empty:
                    if not stopping and should_stop():
                        stopping = True
                        for w in workers:
                            w.send("stop")
                    continue
                member = worker.member
                if member is None:
                    continue  # an idle worker ending
                if answer is None:  # the worker died under its member (killed, out of memory)
                    result = MemberResult(member, run_status(member.path) if member.path.is_dir() else "died", None,
                                          f"worker exited with {worker.process.wait()}")  # fmt: skip
                    worker.member = None
                    if pending and not stopping:
                        worker = _Worker(results, log)
                        workers.append(worker)
                else:
                    result = MemberResult(member, answer["status"], answer.get("test_accuracy"), answer.get("message", ""))
                done.append(result)
                on_done(result)
                dispatch(worker)
        finally:
            for w in workers:
                w.close()
            for w in workers:
                try:
                    w.process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    w.process.kill()
    return done
