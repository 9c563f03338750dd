"""Drives a comparison directory to its end: the members still to do go to the pool, and the
leaderboard files are rewritten after every member that ends.

`mlp-tui compare --headless` calls `drive` in its own process; the app starts it as

    python -m mlp_tui.runs.compare.driver DIR [--jobs N] [--data-dir D] [--device X]

and follows the directory, as `watch` does: the views only ever read the run directories.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable

from ...errors import exit_now
from .board import Board
from .leaderboard import write_leaderboard
from .plan import PLAN_FILE, Plan, read_plan
from .pool import STOP_FILE, MemberResult, default_jobs, member_job, run_pool, stop_requested, threads_per_job
from .pool import write_driver_file


def drive(
    folder: Path,
    plan: Plan,
    *,
    jobs: int | None = None,
    data_dir: Path | None = None,
    device: str | None = None,
    on_start: Callable[[int, int, int], None] = lambda todo, jobs, threads: None,
    on_done: Callable[[MemberResult, Board], None] = lambda result, board: None,
    should_stop: Callable[[], bool] = lambda: False,
    check_data: bool = True,
) -> Board:
    folder = Path(folder)
    members = plan.members(folder)
    jobs = jobs or default_jobs(device or plan.variants[0].config.device, len(members))
    (folder / STOP_FILE).unlink(missing_ok=True)  # an old stop is not for this driver
    write_driver_file(folder)
    # Seed by seed: every variant's first run comes before any second one, so the leaderboard
    # has something to say early.
    ordered = sorted(members, key=lambda m: (m.seed, m.index))
    todo = [(m, job) for m in ordered if (job := member_job(m, data_dir, 0, device)) is not None]
    # The cores are divided between the workers that will actually start.
    jobs = max(1, min(jobs, len(todo)))
    threads = threads_per_job(jobs)
    todo = [(m, dataclasses.replace(job, threads=threads)) for m, job in todo]
    board = Board(plan, folder)
    if todo and check_data:
        from ...engine.data import ensure_dataset

        for dataset in dict.fromkeys(job.config.dataset for _, job in todo):
            ensure_dataset(dataset, data_dir)  # DataError: nothing has trained

    def done(result: MemberResult) -> None:
        board.update()
        write_leaderboard(board)
        on_done(result, board)

    board.update()
    write_leaderboard(board)
    on_start(len(todo), min(jobs, len(todo)), threads)
    if todo:
        run_pool(todo, jobs, folder, done, lambda: should_stop() or stop_requested(folder))
    board.update()
    write_leaderboard(board)
    return board


DRIVER_LOG = "driver.log"


def start_driver(
    folder: Path, *, jobs: int | None = None, data_dir: Path | None = None, device: str | None = None
) -> subprocess.Popen:
    """`drive` in a process of its own (for the app): its output goes to driver.log, and a
    SIGTERM (or `request_stop(folder)`) stops the members saved, so `compare --resume` finishes them."""
    args = [sys.executable, "-m", "mlp_tui.runs.compare.driver", str(folder)]
    args += ["--jobs", str(jobs)] if jobs else []
    args += ["--data-dir", str(data_dir)] if data_dir else []
    args += ["--device", device] if device else []
    with open(Path(folder) / DRIVER_LOG, "ab") as log:
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)


def driver_error(folder: Path) -> str:
    """The last lines of driver.log: why a driver the app started ended early."""
    try:
        lines = (Path(folder) / DRIVER_LOG).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-3:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlp_tui.runs.compare.driver")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    plan = read_plan(args.folder / PLAN_FILE)
    try:
        drive(args.folder, plan, jobs=args.jobs, data_dir=args.data_dir, device=args.device, should_stop=stop.is_set)
    except (RuntimeError, ValueError) as exc:  # DataError and friends: nothing trained
        print(f"mlp-tui: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    exit_now(main())
