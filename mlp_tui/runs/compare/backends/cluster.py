"""A comparison trained on a cluster (ray_cluster.py; a fake in the tests). Every member is
handed to the cluster at once, in order, and the cluster's scheduler decides where and when each
trains: we do not schedule. What a member's worker streams back is written into its directory as
it comes, so the driver's comparison directory is the same as a local one and every view reads
it as it reads a local run.

A member whose worker (or node) dies is handed out again from its last checkpoint; commands
written to a member's control file (pause, lr, stop, from `watch` or the app) are passed on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, Protocol

from mlp_tui.runs.compare.backends import ClusterSpec, MemberResult
from mlp_tui.runs.compare.backends.retry import WorkerLog, continue_job, ended_result
from mlp_tui.runs.compare.backends.streaming import apply_changes, read_files
from mlp_tui.runs.compare.plan import Member
from mlp_tui.runs.job import Job
from mlp_tui.runs.status import read_command, write_process_file

MAX_TRIES = 3  # a member's worker may die this many times before the member counts as died
FORWARD_S = 0.25  # how often members' control files are read for commands to pass on


class MemberLost(RuntimeError):
    """The worker (or the node) training a member died: the member can be tried again."""


class Cluster(Protocol):
    def describe(self) -> str:
        """Where the members train, for the user: "the Ray cluster at 10.0.0.1:6379 (64 CPUs)"."""

    def check_data(self, datasets: list[str], data_dir: Path | None) -> None:
        """The data is there on the cluster (DataError if not)."""

    def submit(self, name: str, job: Job, files: dict[str, bytes]) -> Iterator[dict[str, Any]]:
        """Hand a member to the cluster now; its messages (remote_member.stream_member's) as they
        come. Iterating raises MemberLost when its worker died; anything else when it failed."""

    def post(self, name: str, command: str) -> None:
        """Pass a command (pause, resume, stop, lr X) to the member called `name`."""

    def stop_all(self) -> None:
        """Members in progress stop (saved), members not started never start."""


class ClusterRunner:
    """The Backend that trains a comparison on a Cluster."""

    def __init__(self, cluster: Cluster, spec: ClusterSpec) -> None:
        self.cluster, self.spec = cluster, spec

    def start(self, members: int) -> tuple[int, str]:
        asks = f"{self.spec.cpus_per_run:g} CPU" + (
            f" and {self.spec.gpus_per_run:g} GPU" if self.spec.gpus_per_run else ""
        )
        return self.spec.threads, f"on {self.cluster.describe()}, {asks} per run"

    def check_data(self, datasets: list[str], data_dir: Path | None) -> None:
        self.cluster.check_data(datasets, data_dir)

    def run(
        self,
        todo: list[tuple[Member, Job]],
        folder: Path,
        on_done: Callable[[MemberResult], None],
        should_stop: Callable[[], bool],
        on_note: Callable[[str], None] = lambda line: None,
    ) -> list[MemberResult]:
        results: queue.Queue[MemberResult | None] = queue.Queue()
        done: list[MemberResult] = []
        stopping = threading.Event()
        with WorkerLog(folder, on_note) as log:
            # Handed out in order (seed by seed): the cluster starts them in that order as it has room.
            followers = [_Follower(m, job, self.cluster, results, log, stopping) for m, job in todo]
            outstanding = len(followers)
            while outstanding:
                result: MemberResult | Literal[False] | None  # False: nothing came
                try:
                    result = results.get(timeout=FORWARD_S)
                except queue.Empty:
                    result = False
                if not stopping.is_set() and should_stop():
                    stopping.set()
                    self.cluster.stop_all()
                for follower in followers:
                    follower.forward_command()
                if result is False:
                    continue
                outstanding -= 1
                if result is not None:  # None: it never started (the comparison stopped first)
                    done.append(result)
                    on_done(result)
        return done


class _Follower:
    """One member on the cluster: its stream written into its directory, tried again when its
    worker dies. The stream is read on a thread of its own; the result goes to `results`."""

    def __init__(
        self,
        member: Member,
        job: Job,
        cluster: Cluster,
        results: queue.Queue[MemberResult | None],
        log: WorkerLog,
        stopping: threading.Event,
    ) -> None:
        self.member, self.job, self.cluster, self.results, self.log, self.stopping = (
            member,
            job,
            cluster,
            results,
            log,
            stopping,
        )
        self.name = member.path.name
        self.forwarded = read_command(member.path)  # a command already there is old news
        self.running = False
        self._submit()
        threading.Thread(target=self._follow, daemon=True, name=f"follow {self.name}").start()

    def _submit(self) -> None:
        """Hand the member to the cluster, with its directory when it continues from a checkpoint."""
        files = read_files(self.member.path) if self.job.resume else {}
        self.stream = self.cluster.submit(self.name, self.job, files)

    def forward_command(self) -> None:
        if not self.running:
            return
        command = read_command(self.member.path)
        if command is not None and command != self.forwarded:
            self.forwarded = command
            self.cluster.post(self.name, command)

    def _follow(self) -> None:
        tries = 1
        while True:
            try:
                result = self._read(self.stream)
                break
            except MemberLost as exc:
                if (result := ended_result(self.member)) is not None:  # lost after its last word reached us
                    break
                if tries >= MAX_TRIES or self.stopping.is_set():
                    self.log.left(self.name, f"worker lost ({exc})")
                    result = MemberResult(self.member, "died", None, f"worker lost {tries} time(s): {exc}")
                    break
                tries += 1
                self.job = continue_job(self.member, self.job)
                self.log.again(self.name, f"worker lost ({exc})", self.job, tries, MAX_TRIES)
                self._submit()
            except Exception as exc:  # the member's own code failed on the worker: not worth another try
                text = f"{type(exc).__name__}: {exc}"
                self.log(f"{self.name}: failed on the cluster: {text}")
                result = MemberResult(self.member, "failed", None, text[:500])
                break
        self.running = False
        self.results.put(result)

    def _read(self, stream: Iterator[dict[str, Any]]) -> MemberResult | None:
        try:
            return self._messages(stream)
        finally:
            getattr(stream, "close", lambda: None)()  # done with it: the worker may let go

    def _messages(self, stream: Iterator[dict[str, Any]]) -> MemberResult | None:
        for message in stream:
            if "started" in message:
                self.member.path.mkdir(parents=True, exist_ok=True)
                # The driver is the member's process here: when it dies, the member died.
                write_process_file(self.member.path)
                where = message["started"]
                self.log(f"{self.name}: training on {where.get('host')} (pid {where.get('pid')})")
                self.running = True
            elif "files" in message:
                apply_changes(self.member.path, message["files"])
            elif "result" in message:
                ended = message["result"]
                if ended is None:
                    return None
                return MemberResult(self.member, ended["status"], ended.get("test_accuracy"), ended.get("message", ""))
        raise MemberLost("its stream ended without a result")
