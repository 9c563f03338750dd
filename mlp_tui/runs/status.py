"""What state a run directory is in, for `runs`, `watch` and `--resume`, from any process.

A run writes `process.json` (pid, host) when it starts and events to `metrics.jsonl`; a run that
ended says so in its last event. One that has not ended is running if its process is alive
(same host), died if not, and stale if nothing was written for a while (another host, or hung).
Commands for a running run go through the small `control` file, polled by the engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlp_tui.core.events import EndStatus
from mlp_tui.engine.control import parse_lr
from mlp_tui.runs.layout import (
    CONFIG_FILE,
    CONTROL_FILE,
    METRICS_FILE,
    PROCESS_FILE,
    is_run_dir,
    owner_record,
    read_owner,
)
from mlp_tui.runs.store import atomic_write_bytes, read_events

STALE_S = 120.0  # no event for this long and no live process we can see: stale
COMMANDS = ("pause", "resume", "stop")
FINAL_EVENTS = ("run_finished", "run_failed")


class RunNotFound(LookupError):
    """No such run directory. Shown without a traceback, exit 2."""


def write_process_file(run_dir: Path) -> None:
    atomic_write_bytes(Path(run_dir) / PROCESS_FILE, owner_record())


def is_command(text: str) -> bool:
    return text in COMMANDS or (text.startswith("lr ") and parse_lr(text) is not None)


def write_command(run_dir: Path, command: str) -> None:
    """Ask a running run to pause, resume, stop or take a learning rate ("lr 0.01", or "lr *0.5":
    the rate it has then, halved), honoured at its next batch boundary."""
    if not is_command(command):
        raise ValueError(f"unknown command {command!r}; allowed: {', '.join(COMMANDS)}, lr VALUE")
    atomic_write_bytes(Path(run_dir) / CONTROL_FILE, f"{command}\n".encode())


def read_command(run_dir: Path) -> str | None:
    try:
        text = (Path(run_dir) / CONTROL_FILE).read_text().strip()
    except OSError:
        return None
    return text if is_command(text) else None


def run_status(run_dir: Path, records: list[dict[str, Any]] | None = None, now: float | None = None) -> str:
    """running | paused | stale | died | failed | empty, or the final status of an ended run
    (completed, early-stopped, stopped, interrupted, terminated, hung up)."""
    run_dir = Path(run_dir)
    if records is None:
        path = run_dir / METRICS_FILE
        records = read_events(path)
    if not records:
        return "empty"
    last = records[-1]
    if last.get("event") == "run_finished":
        return last.get("status", EndStatus.COMPLETED)
    if last.get("event") == "run_failed":
        return "failed"
    now = time.time() if now is None else now
    owner = read_owner(run_dir / PROCESS_FILE)
    if owner is not None and owner.died():
        return "died"
    # The run's own word first (a paused run writes nothing more, so it is never stale), then
    # the control file: a pause asked for and not yet reached at a batch boundary.
    if last.get("event") == "paused" or read_command(run_dir) == "pause":
        return "paused"
    written = last.get("t")
    if written is None or now - float(written) > STALE_S:
        return "stale"  # alive but silent (hung?), or on another host we cannot look at
    return "running"


def failed_for_disk(run_dir: Path) -> bool:
    """A run that ended for a full (or read-only) disk: sound in itself, so `compare --resume`
    continues it (once there is room) instead of leaving it failed."""
    records = read_events(Path(run_dir) / METRICS_FILE)
    return bool(records) and records[-1].get("event") == "run_failed" and records[-1].get("reason") == "disk-full"


@dataclass(frozen=True)
class RunSummary:
    path: Path
    preset: str
    status: str
    epochs_done: int
    epochs: int
    best_val_accuracy: float | None
    test_accuracy: float | None
    started: float | None
    device: str | None = None  # where it trained (and was tested), as the run named it
    dataset: str = "mnist"

    @property
    def id(self) -> str:
        return self.path.name


def summarize(run_dir: Path) -> RunSummary:
    run_dir = Path(run_dir)
    path = run_dir / METRICS_FILE
    records = read_events(path)
    start: dict[str, Any] = next((r for r in records if r.get("event") == "run_started"), {})
    epochs = [r for r in records if r.get("event") == "epoch_end"]
    vals = [r["val_accuracy"] for r in epochs if r.get("val_accuracy") is not None]
    finished: dict[str, Any] = next((r for r in reversed(records) if r.get("event") == "run_finished"), {})
    config = start.get("config", {})
    return RunSummary(
        path=run_dir,
        preset=start.get("preset", "?"),
        status=run_status(run_dir, records),
        epochs_done=max((r["epoch"] for r in epochs), default=0),
        epochs=int(config.get("epochs", 0)),
        best_val_accuracy=max(vals) if vals else None,
        test_accuracy=finished.get("test_accuracy"),
        started=start.get("time") or (records[0].get("t") if records else None),
        device=last_device(records),
        dataset=str(config.get("dataset", "mnist")),
    )


def last_device(records: list[dict[str, Any]]) -> str | None:
    """Where the run's last session trained and tested (a resumed run may have moved to another
    device), with the CPU thread count `--threads auto` chose last in that session."""
    device = None
    for r in records:
        if r.get("event") == "run_started":
            device = r.get("device")
        elif r.get("event") == "threads_changed" and (device or "").startswith("CPU"):
            device = r.get("device")
    return device


def find_runs(root: Path) -> list[Path]:
    """Run directories under root (those holding metrics.jsonl or config.toml), newest first:
    by when they started (config.toml's time), as `latest` means."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if p.is_dir() and is_run_dir(p)]
    return sorted(runs, key=_started, reverse=True)


def _started(run_dir: Path) -> float:
    config = run_dir / CONFIG_FILE  # written when the run starts (a rewrite keeps its time)
    return (config if config.exists() else run_dir).stat().st_mtime


def resolve_run(name: str, root: Path) -> Path:
    """A run directory from a path, a directory name under root, or `latest`."""
    return resolve_dir(name, root, find_runs, is_run_dir, "run", "`mlp-tui run --headless`")


def resolve_dir(
    name: str,
    root: Path,
    newest_first: Callable[[Path], list[Path]],
    holds: Callable[[Path], bool],
    what: str,
    start: str,
) -> Path:
    """A directory `holds` accepts, from a path, a name under root, or `latest` (the first of
    `newest_first(root)`); RunNotFound (exit 2) names where it looked."""
    if name == "latest":
        found = newest_first(root)
        if not found:
            raise RunNotFound(f"no {what}s under {root}; start one with {start}")
        return found[0]
    for candidate in (Path(name).expanduser(), Path(root) / name):
        if candidate.is_dir() and holds(candidate):
            return candidate
    raise RunNotFound(f"no {what} at '{name}' (looked for a {what} directory there and under {root}); "
                      "`mlp-tui runs` lists them")  # fmt: skip
