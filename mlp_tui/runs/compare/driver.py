"""Drives a comparison directory to its end: the members still to do go to a backend (the
local pool, or a Ray cluster), and the leaderboard files are rewritten after every member that ends.

`mlp-tui compare --headless` calls `drive` in its own process; the app starts it as

    python -m mlp_tui.runs.compare.driver DIR [--jobs N] [--data-dir D] [--device X]
                                              [--ray ADDRESS --cpus-per-run C --gpus-per-run G]

and follows the directory, as `watch` does: the views only ever read the run directories.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from mlp_tui.core.errors import DiskFullError, exit_now
from mlp_tui.runs.compare.backends import Backend, ClusterSpec, MemberResult
from mlp_tui.runs.compare.backends.pool import LocalPool, member_job
from mlp_tui.runs.compare.backends.ray_backend import cluster_backend
from mlp_tui.runs.compare.board import Board
from mlp_tui.runs.compare.folder import stop_requested, write_driver_file
from mlp_tui.runs.compare.leaderboard import write_leaderboard
from mlp_tui.runs.compare.plan import LEADERBOARD_MD, PLAN_FILE, Plan, read_plan
from mlp_tui.runs.layout import CONTROL_FILE
from mlp_tui.runs.process import on_stop_signals


def drive(
    folder: Path,
    plan: Plan,
    *,
    backend: Backend | None = None,
    jobs: int | None = None,
    data_dir: Path | None = None,
    device: str | None = None,
    on_start: Callable[[int, str], None] = lambda todo, where: None,
    on_done: Callable[[MemberResult, Board], None] = lambda result, board: None,
    should_stop: Callable[[], bool] = lambda: False,
    check_data: bool = True,
    on_note: Callable[[str], None] = lambda line: None,
) -> Board:
    """Train what is left of the comparison on `backend` (default: the local pool, `jobs`
    workers); `on_start(todo, where)` hears how many members train and where, `on_note` each
    line about a member tried again (it is in workers.log too)."""
    folder = Path(folder)
    members = plan.members(folder)
    backend = backend or LocalPool(jobs, device or plan.variants[0].config.device)
    (folder / CONTROL_FILE).unlink(missing_ok=True)  # an old stop is not for this driver
    write_driver_file(folder)
    # Seed by seed: every variant's first run comes before any second one, so the leaderboard
    # has something to say early.
    ordered = sorted(members, key=lambda m: (m.seed, m.index))
    todo = [(m, job) for m in ordered if (job := member_job(m, data_dir, 0, device)) is not None]
    board = Board(plan, folder)
    threads, where = backend.start(len(todo)) if todo else (0, "")
    todo = [(m, dataclasses.replace(job, threads=threads)) for m, job in todo]
    if todo and check_data:
        backend.check_data(
            list(dict.fromkeys(job.config.dataset for _, job in todo)), data_dir
        )  # DataError: nothing trained

    def done(result: MemberResult) -> None:
        board.update()
        write_leaderboard(board)
        on_done(result, board)

    board.update()
    write_leaderboard(board)
    on_start(len(todo), where)
    if todo:
        backend.run(todo, folder, done, lambda: should_stop() or stop_requested(folder), on_note)
    board.update()
    write_leaderboard(board)
    return board


DRIVER_LOG = "driver.log"


def start_driver(
    folder: Path,
    *,
    jobs: int | None = None,
    data_dir: Path | None = None,
    device: str | None = None,
    cluster: ClusterSpec | None = None,
) -> subprocess.Popen:
    """`drive` in a process of its own (for the app): its output goes to driver.log, and a
    SIGTERM (or `request_stop(folder)`) stops the members saved, so `compare --resume` finishes them."""
    args = [sys.executable, "-m", "mlp_tui.runs.compare.driver", str(folder)]
    args += ["--jobs", str(jobs)] if jobs else []
    args += ["--data-dir", str(data_dir)] if data_dir else []
    args += ["--device", device] if device else []
    args += cluster.args() if cluster else []
    with open(Path(folder) / DRIVER_LOG, "ab") as log:
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)


def driver_error(folder: Path) -> str:
    """The last lines of driver.log: why a driver the app started ended early."""
    try:
        lines = (Path(folder) / DRIVER_LOG).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-3:])


def driver_outcome(folder: Path, rc: int, stopping: bool) -> tuple[str, str, Literal["information", "error"]]:
    """How a driver the app started ended, as a notice: (title, message, severity)."""
    if rc != 0:
        message = driver_error(folder) or f"The comparison's driver exited with status {rc}."
        return "Comparison failed", message, "error"
    if stopping:
        return "Comparison stopped", f"Stopped. Finish it with: mlp-tui compare --resume {folder}", "information"
    return "Comparison finished", f"Leaderboard: {Path(folder) / LEADERBOARD_MD}", "information"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlp_tui.runs.compare.driver")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--ray", default=None, metavar="ADDRESS")
    parser.add_argument("--cpus-per-run", type=float, default=1.0)
    parser.add_argument("--gpus-per-run", type=float, default=0.0)
    args = parser.parse_args(argv)
    stop = threading.Event()
    on_stop_signals(lambda reason: stop.set())  # the members stop, saved; `compare --resume` finishes them
    plan = read_plan(args.folder / PLAN_FILE)
    try:
        backend = None
        if args.ray:
            backend = cluster_backend(ClusterSpec(args.ray, args.cpus_per_run, args.gpus_per_run))
        drive(args.folder, plan, backend=backend, jobs=args.jobs, data_dir=args.data_dir, device=args.device,
              should_stop=stop.is_set, on_note=lambda line: print(line, flush=True))  # fmt: skip
    except DiskFullError as exc:  # a leaderboard or driver file: the members stopped saved
        print(f"mlp-tui: {exc}", file=sys.stderr)
        return 1
    except (RuntimeError, ValueError) as exc:  # DataError and friends: nothing trained
        print(f"mlp-tui: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    exit_now(main())
