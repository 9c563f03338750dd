"""The Cluster of cluster.py on Ray: each member is a Ray task that streams its run back
(a streaming generator, so no shared filesystem is needed), and a small actor carries commands
to the members. Only `--ray` imports this module, and so Ray.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, cast

import ray
import ray.exceptions

from mlp_tui.core.config import ConfigError
from mlp_tui.core.errors import DataError
from mlp_tui.runs.compare.backends import ClusterSpec
from mlp_tui.runs.compare.backends.cluster import MemberLost
from mlp_tui.runs.compare.backends.remote_member import STOP, stream_member
from mlp_tui.runs.job import Job


@ray.remote(num_cpus=0)
class Mailbox:
    """Commands for members, fetched by their workers between messages."""

    def __init__(self) -> None:
        self.commands: dict[str, str] = {}
        self.stopped = False

    def post(self, name: str, command: str) -> None:
        self.commands[name] = command

    def take(self, name: str) -> str | None:
        return STOP if self.stopped else self.commands.pop(name, None)

    def stop_all(self) -> None:
        self.stopped = True


@ray.remote(max_retries=0)  # a lost worker is tried again by cluster.py, from the last checkpoint
def _train_member(
    job_json: str, files: dict[str, bytes], mailbox: ray.actor.ActorHandle, name: str
) -> Iterator[dict[str, Any]]:
    yield from stream_member(Job.from_json(job_json), files, _Inbox(mailbox, name))


class _Inbox:
    """A member's commands, asked for without waiting: a task blocked in ray.get or ray.wait
    lends its CPU to the next task, and the cluster would train more members than it has room
    for. A future is told its answer by Ray's own thread instead."""

    def __init__(self, mailbox: ray.actor.ActorHandle, name: str) -> None:
        self.mailbox, self.name = mailbox, name
        self.asked: Future[str | None] | None = None

    def __call__(self) -> str | None:
        if self.asked is None:
            self.asked = self.mailbox.take.remote(self.name).future()
        if not self.asked.done():
            return None  # not yet: ask again next time
        asked, self.asked = self.asked, None
        return asked.result()


@ray.remote(num_cpus=0, max_retries=0)
def _check_data(datasets: list[str], data_dir: str | None) -> None:
    from mlp_tui.engine.data import ensure_dataset

    for dataset in datasets:
        ensure_dataset(dataset, data_dir)


def connect(address: str) -> str:
    """Join the cluster at `address` ("auto": the one RAY_ADDRESS or `ray start` names, else a
    new Ray instance on this machine); says which. ConfigError (exit 2) if it cannot."""
    if ray.is_initialized():
        return "the Ray instance already running in this process"
    _check_reachable(address if address != "auto" else os.environ.get("RAY_ADDRESS", "auto"))
    # Ray takes SIGTERM for itself when it connects; the app's and the driver's handlers stay.
    main = threading.current_thread() is threading.main_thread()
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)} if main else {}
    try:
        context = ray.init(
            address=None if address == "auto" else address,
            log_to_driver=False,  # workers' output stays in Ray's logs, off the driver's screen
            logging_level=logging.ERROR,
        )  # fmt: skip
    except (ConnectionError, ValueError, RuntimeError, TimeoutError) as exc:
        raise ConfigError(f"--ray {address}: cannot join a Ray cluster there ({str(exc).strip()[:300]}); "
                          "start one with `ray start --head`, or use --ray auto") from None  # fmt: skip
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    # A Ray Client address (ray://…) gives a ClientContext, which has no address_info.
    info = getattr(context, "address_info", None) or {}
    return f"the Ray cluster at {info.get('gcs_address') or address}"


def _check_reachable(address: str) -> None:
    """Ray waits minutes for a head that is not there, printing its own warnings: a plain TCP
    connect says it in seconds."""
    host, _, port = address.rpartition(":")
    if address == "auto" or "://" in address or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as exc:
        raise ConfigError(f"--ray {address}: nothing answers there ({exc.strerror or exc}); is the head running "
                          "(`ray start --head` on it) and its port open to this machine?") from None  # fmt: skip


class RayCluster:
    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        self.where = connect(spec.address)
        self._fits()
        self.mailbox = Mailbox.remote()  # type: ignore[attr-defined]  # @ray.remote made it an actor class

    def _fits(self) -> None:
        """A member that no node can hold would wait forever: say so now."""
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        if not any(
            n.get("CPU", 0) >= self.spec.cpus_per_run and n.get("GPU", 0) >= self.spec.gpus_per_run for n in nodes
        ):
            largest: dict[str, float] = max(nodes, key=lambda n: (n.get("GPU", 0), n.get("CPU", 0)), default={})
            raise ConfigError(
                f"--cpus-per-run {self.spec.cpus_per_run:g} --gpus-per-run {self.spec.gpus_per_run:g}: no node of "
                f"{self.where} has that much (the largest has {largest.get('CPU', 0):g} CPUs, "
                f"{largest.get('GPU', 0):g} GPUs)"
            )  # fmt: skip

    def describe(self) -> str:
        total = ray.cluster_resources()
        gpus = f", {total.get('GPU', 0):g} GPUs" if total.get("GPU") else ""
        return f"{self.where} ({total.get('CPU', 0):g} CPUs{gpus})"

    def check_data(self, datasets: list[str], data_dir: Path | None) -> None:
        try:
            ray.get(_check_data.remote(datasets, None if data_dir is None else str(data_dir)))
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(getattr(exc, "cause", None), Exception) else exc
            raise DataError(f"on the Ray cluster: {cause}") from None

    def submit(self, name: str, job: Job, files: dict[str, bytes]) -> Iterator[dict[str, Any]]:
        stream = _train_member.options(
            num_cpus=self.spec.cpus_per_run, num_gpus=self.spec.gpus_per_run, name=f"mlp-tui {name}"
        ).remote(job.to_json(), files, self.mailbox, name)  # fmt: skip
        # A generator task's .remote() gives an ObjectRefGenerator; Ray's annotations say ObjectRef.
        return self._read(cast("ray.ObjectRefGenerator", stream))

    @staticmethod
    def _read(stream: ray.ObjectRefGenerator) -> Iterator[dict[str, Any]]:
        try:
            for ref in stream:
                yield ray.get(ref)
        except ray.exceptions.RayTaskError:
            raise  # the member's code failed: told as it is
        except ray.exceptions.RayError as exc:  # the worker, its node or its objects are gone
            raise MemberLost(
                f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}"
            ) from None

    def post(self, name: str, command: str) -> None:
        self.mailbox.post.remote(name, command)

    def stop_all(self) -> None:
        ray.get(self.mailbox.stop_all.remote())
