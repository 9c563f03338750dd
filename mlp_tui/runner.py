"""Sets a run up (device, data, run directory) and runs it headless with signal handling."""

from __future__ import annotations

import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import CLI_SOURCE, ConfigError, RunConfig, build_config
from .data import Dataset, load_dataset
from .engine import Control, Trainer
from .errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from .events import Event, RunFailed, RunFinished
from .headless import make_printer
from .model import configure_device, device_name, pick_device
from .runinfo import (
    CONTROL_FILE, pid_alive, read_command, read_process_file, run_status, write_command, write_process_file,
)  # fmt: skip
from .runs import CheckpointError, RunStore, load_run_checkpoint, new_run_dir

STOP_SIGNALS = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}
if hasattr(signal, "SIGHUP"):
    STOP_SIGNALS[signal.SIGHUP] = "hung up"


@dataclass
class Prepared:
    device: torch.device
    device_label: str
    data: Dataset


def prepare(config: RunConfig, data_dir: str | Path | None) -> Prepared:
    """Device and data; raises DeviceError / DataError (both exit 2) before anything trains."""
    device = pick_device(config.device)
    configure_device(device, config.deterministic)
    data = load_dataset(
        config.dataset, data_dir, val_split=config.val_split, seed=config.seed, device=device, subset=config.subset
    )
    return Prepared(device, device_name(device), data)


def open_store(
    config: RunConfig, preset: str, run_dir: Path | None, runs_root: Path, reproduce: str | None = None
) -> RunStore:
    path = Path(run_dir) if run_dir is not None else new_run_dir(preset, runs_root)
    store = RunStore(path, reproduce)
    store.write_config(config, preset)
    return store


@dataclass
class Resume:
    """What `--resume` continues from: the run's directory, config and checkpoints."""

    run_dir: Path
    config: RunConfig
    preset: str
    last: dict
    best: dict | None


def load_resume(run_dir: Path, device: str | None = None) -> Resume:
    """Check that a run can be resumed and load its checkpoints (weights_only)."""
    status = run_status(run_dir)
    if status in ("completed", "early-stopped"):
        raise ConfigError(f"run {run_dir} already finished ({status}); nothing to resume")
    process = read_process_file(run_dir) or {}
    alive = process.get("host") == socket.gethostname() and pid_alive(int(process.get("pid", -1)))
    if status in ("running", "paused") or alive:
        raise ConfigError(
            f"run {run_dir} is still running (pid {process.get('pid')}); watch it with: mlp-tui watch {run_dir}"
        )
    last_path = Path(run_dir) / "last.pt"
    if not last_path.is_file():
        raise ConfigError(f"run {run_dir} has no last.pt (it stopped before its first checkpoint); start it anew")
    last = load_run_checkpoint(last_path)
    best = load_run_checkpoint(Path(run_dir) / "best.pt") if (Path(run_dir) / "best.pt").is_file() else None
    config = build_config(last["config"])
    if device is not None:
        config = build_config({"device": device}, source=CLI_SOURCE, base=config)
    return Resume(Path(run_dir), config, str(last.get("preset", "custom")), last, best)


def make_trainer(
    config: RunConfig,
    preset: str,
    prepared: Prepared,
    store: RunStore,
    emit,
    resume: Resume | None = None,
    control: Control | None = None,
    **options,
) -> Trainer:
    """A Trainer wired to its run directory: process file for `runs`/`watch`, commands from
    the directory's control file, and the checkpoints to continue from when resuming."""
    write_process_file(store.path)
    (store.path / CONTROL_FILE).unlink(missing_ok=True)  # an old command is not for this process
    for leftover in store.path.glob(".*.tmp"):  # saves cut short by kill -9: never valid files
        leftover.unlink(missing_ok=True)
    control = control or Control()
    control.set_commands(lambda: read_command(store.path))
    control.on_command = lambda command: write_command(store.path, command)
    trainer = Trainer(
        config, prepared.data, prepared.device, emit=emit, control=control, store=store, preset=preset,
        device_label=prepared.device_label, **options,
    )  # fmt: skip
    if resume is not None:
        try:
            trainer.restore(resume.last, resume.best)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(
                f"{resume.run_dir / 'last.pt'}: cannot continue from it ({type(exc).__name__}: {str(exc)[:200]})"
            ) from None
    return trainer


def exit_code(result: Event, signal_code: int | None) -> int:
    if isinstance(result, RunFailed):
        return EXIT_USAGE if result.reason == "data" else EXIT_FAILED
    if isinstance(result, RunFinished) and result.status not in ("completed", "early-stopped", "stopped"):
        return signal_code or 130
    return EXIT_OK


def run_headless(
    config: RunConfig,
    preset: str,
    *,
    data_dir: Path | None,
    run_dir: Path | None,
    runs_root: Path,
    reproduce: str,
    resume: Resume | None = None,
) -> int:
    try:
        prepared = prepare(config, data_dir)
    except KeyboardInterrupt:  # Ctrl-C while loading: nothing to save yet
        print("mlp-tui: interrupted before training started; nothing was written", file=sys.stderr)
        return 130
    if resume is not None:
        store = RunStore(resume.run_dir, reproduce)  # appends to the run's metrics.jsonl
    else:
        store = open_store(config, preset, run_dir, runs_root, reproduce)
    printer = make_printer(reproduce=reproduce)
    control = Control()
    received: list[int] = []

    def on_signal(signum, frame):
        received.append(signum)
        if len(received) > 1:
            # A second signal: leave now. Checkpoints are written atomically, so nothing is torn.
            os._exit(128 + signum)
        control.stop(STOP_SIGNALS.get(signum, "interrupted"))

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        trainer = make_trainer(config, preset, prepared, store, printer.handle, resume, control)
        result = trainer.run()
        store.close()
    finally:
        printer.close()
        # Only now: a second Ctrl+C while the metrics are being flushed still exits at once
        # (instead of raising KeyboardInterrupt into the end of the run).
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return exit_code(result, 128 + received[0] if received else None)
