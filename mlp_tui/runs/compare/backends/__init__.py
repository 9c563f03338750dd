"""What trains a comparison's members: the local pool of worker processes (pool.py) or a
cluster (cluster.py with ray_cluster.py). `drive` hands the members to one and hears each end.
This module is the contract they implement; it imports none of them."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mlp_tui.core.config import ConfigError
from mlp_tui.core.events import EndStatus
from mlp_tui.runs.compare.plan import Member
from mlp_tui.runs.job import Job


@dataclass(frozen=True)
class MemberResult:
    member: Member
    status: str  # completed, early-stopped, stopped, failed, died, ...
    test_accuracy: float | None
    message: str = ""

    @property
    def ok(self) -> bool:
        return EndStatus.trained(self.status)


class Backend(Protocol):
    def start(self, members: int) -> tuple[int, str]:
        """Get ready to train `members` runs: the CPU threads each gets, and where they train
        (said to the user: "on 2 worker processes, 1 CPU thread each")."""

    def check_data(self, datasets: list[str], data_dir: Path | None) -> None:
        """Every dataset where the members will read it (downloaded once, not by each member);
        DataError before anything trains."""

    def run(
        self,
        todo: list[tuple[Member, Job]],
        folder: Path,
        on_done: Callable[[MemberResult], None],
        should_stop: Callable[[], bool],
        on_note: Callable[[str], None] = lambda line: None,
    ) -> list[MemberResult]:
        """Train the members; `on_done` hears each as it ends, `on_note` each line the user
        should see meanwhile (a member tried again). When `should_stop()` turns true, members in
        progress stop (saved, resumable) and no more start."""


@dataclass(frozen=True)
class ClusterSpec:
    """`--ray auto|ADDRESS` and what each member asks of the cluster."""

    address: str = "auto"
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0

    def args(self) -> list[str]:
        """The same spec as the driver process's command line."""
        return [
            "--ray",
            self.address,
            "--cpus-per-run",
            str(self.cpus_per_run),
            "--gpus-per-run",
            str(self.gpus_per_run),
        ]

    @property
    def threads(self) -> int:
        return max(1, int(self.cpus_per_run))


RAY_INSTALL = 'pip install -e ".[ray]"  (in the mlp-tui checkout; or: pip install "ray>=2.9")'


def require_ray() -> None:
    """--ray without Ray: exit 2 with the command that installs it (Ray is an optional extra)."""
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(f"--ray needs Ray, which is not installed; install it with: {RAY_INSTALL}")


def import_ray() -> None:
    """Import Ray here, where its failure is the user's to fix: an installed but broken Ray (a
    missing library, a version clash) is ConfigError, exit 2, with the error and the install
    command. Only in the process that joins the cluster: Ray stays out of the app's."""
    require_ray()
    try:
        import ray
        import ray.exceptions  # noqa: F401
    except Exception as exc:  # whatever a broken package raises while it loads
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise ConfigError(f"--ray: Ray is installed but cannot be imported ({detail}); reinstall it with: "
                          f"{RAY_INSTALL}") from None  # fmt: skip
