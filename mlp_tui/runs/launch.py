"""The one way a run is started: headless, the app's training process, `--resume` and every
member of a comparison all go through `launch(job, emit, control)`."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mlp_tui.core.config import CLI_SOURCE, ConfigError, RunConfig, build_config
from mlp_tui.core.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, DiskFullError
from mlp_tui.core.events import EndStatus, Event, RunFailed, RunFinished
from mlp_tui.core.presets import load_preset_file
from mlp_tui.engine.control import Control
from mlp_tui.engine.data import Dataset, load_dataset
from mlp_tui.engine.model import configure_device, device_name, pick_device
from mlp_tui.engine.trainer import Trainer
from mlp_tui.runs.checkpoint import CheckpointError
from mlp_tui.runs.job import Job
from mlp_tui.runs.layout import (
    BEST_CHECKPOINT,
    CONFIG_FILE,
    CONTROL_FILE,
    LAST_CHECKPOINT,
    METRICS_FILE,
    PROCESS_FILE,
    read_owner,
)
from mlp_tui.runs.status import read_command, run_status, write_command, write_process_file
from mlp_tui.runs.store import RunStore, load_run_checkpoint, new_run_dir

NOT_STARTED = "before training started"  # the message of a run stopped while its data loaded


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
        config.dataset, data_dir, val_split=config.val_split, seed=config.seed, device=device, subset=config.subset,
        val_from=config.val_from,
    )  # fmt: skip
    return Prepared(device, device_name(device), data)


@dataclass
class Resume:
    """What `--resume` continues from: the run's directory, config and checkpoints."""

    run_dir: Path
    config: RunConfig
    preset: str
    last: dict[str, Any]
    best: dict[str, Any] | None


def load_resume(run_dir: Path, device: str | None = None, owned: bool = False) -> Resume:
    """Check that a run can be resumed and load its checkpoints (weights_only). An `owned`
    directory (a working copy made for this process) has no other owner to look for."""
    status = run_status(run_dir)
    if EndStatus.trained(status):
        raise ConfigError(f"run {run_dir} already finished ({status}); nothing to resume")
    owner = read_owner(Path(run_dir) / PROCESS_FILE)
    # This very process is no other owner: a pool worker going on with a member it ran out of memory on.
    alive = owner is not None and owner.alive(besides=(os.getpid(),))
    if not owned and (status in ("running", "paused") or alive):
        pid = owner.pid if owner else None
        raise ConfigError(f"run {run_dir} is still running (pid {pid}); watch it with: mlp-tui watch {run_dir}")
    last_path, best_path = Path(run_dir) / LAST_CHECKPOINT, Path(run_dir) / BEST_CHECKPOINT
    if not last_path.is_file():
        raise ConfigError(
            f"run {run_dir} has no {LAST_CHECKPOINT} (it stopped before its first checkpoint); start it anew"
        )
    last = load_run_checkpoint(last_path)
    best = load_run_checkpoint(best_path) if best_path.is_file() else None
    config = with_recorded_changes(build_config(last["config"]), Path(run_dir))
    if device is not None:
        config = build_config({"device": device}, source=CLI_SOURCE, base=config)
    return Resume(Path(run_dir), config, str(last.get("preset", "custom")), last, best)


def with_recorded_changes(config: RunConfig, run_dir: Path) -> RunConfig:
    """A rate changed by hand after the last checkpoint is recorded in config.toml only (the run
    was killed before its next save): go on with it, so the run does what config.toml says."""
    try:
        recorded = load_preset_file(run_dir / CONFIG_FILE).config.lr_changes
    except ConfigError:
        return config
    if len(recorded) > len(config.lr_changes) and all(c in recorded for c in config.lr_changes):
        return dataclasses.replace(config, lr_changes=recorded)
    return config


def open_store(job: Job, config: RunConfig) -> RunStore:
    path = Path(job.run_dir) if job.run_dir is not None else new_run_dir(job.preset, job.runs_root)
    store = RunStore(path, job.reproduce, job.copy_of)
    try:
        store.write_config(config, job.preset)
    except DiskFullError:
        store.close()  # nothing trained yet: leave no half-made run behind
        (path / METRICS_FILE).unlink(missing_ok=True)
        if job.run_dir is None:
            with contextlib.suppress(OSError):
                path.rmdir()
        raise
    return store


def disk_full_at_start(exc: DiskFullError, emit: Callable[[Event], None]) -> RunFailed:
    """A full disk before the first batch is told like one during training: exit 1, no traceback."""
    event = RunFailed(reason="disk-full", message=str(exc))
    emit(event)
    return event


def launch(
    job: Job, emit: Callable[[Event], None], control: Control | None = None, *, progress_interval: float | None = None
) -> RunFinished | RunFailed:
    """Start (or continue) the job's run and train it to its end; returns the last event.

    Problems found before training (data, device, a checkpoint that cannot be continued) raise
    DataError / DeviceError / ConfigError / CheckpointError and leave no run directory behind."""
    control = control or Control()
    if job.threads:  # a comparison member's share of the cores, already while its data loads
        torch.set_num_threads(job.threads)
    resume = None
    if job.resume is not None:
        resume = load_resume(job.resume, job.config.device, owned=job.copy_of is not None)
    config = resume.config if resume is not None else job.config
    preset = resume.preset if resume is not None else job.preset
    prepared = prepare(config, job.data_dir)
    if control.stopped:  # stopped while the data loaded: leave no trace
        return RunFinished(status=EndStatus.STOPPED, epochs_done=0, best_epoch=None, best_val_accuracy=None,
                           test_loss=None, test_accuracy=None, seconds=0.0, message=NOT_STARTED)  # fmt: skip
    try:
        store = RunStore(resume.run_dir, job.reproduce, job.copy_of) if resume is not None else open_store(job, config)
    except DiskFullError as exc:
        return disk_full_at_start(exc, emit)
    try:
        trainer = wired_trainer(config, preset, prepared, store, emit, control, progress_interval, job.threads or None)
        if resume is not None:
            try:
                trainer.restore(resume.last, resume.best)
            except (KeyError, TypeError, ValueError, RuntimeError) as exc:
                what = f"{type(exc).__name__}: {str(exc)[:200]}"
                raise CheckpointError(f"{resume.run_dir / LAST_CHECKPOINT}: cannot continue from it ({what})") from None
            del resume  # the trainer holds what it needs
        return trainer.run()
    except DiskFullError as exc:  # process.json; the trainer tells its own
        return disk_full_at_start(exc, emit)
    finally:
        store.close()


def wired_trainer(
    config: RunConfig,
    preset: str,
    prepared: Prepared,
    store: RunStore,
    emit: Callable[[Event], None],
    control: Control,
    progress_interval: float | None = None,
    threads_cap: int | None = None,
) -> Trainer:
    """A Trainer wired to its run directory: process file for `runs`/`watch`, and commands from
    the directory's control file."""
    with store.writing(PROCESS_FILE):
        write_process_file(store.path)
    (store.path / CONTROL_FILE).unlink(missing_ok=True)  # an old command is not for this process
    for leftover in store.path.glob(".*.tmp"):  # saves cut short by kill -9: never valid files
        leftover.unlink(missing_ok=True)
    control.set_commands(lambda: read_command(store.path))
    control.on_command = lambda command: write_command(store.path, command)
    return Trainer(
        config, prepared.data, prepared.device, emit=emit, control=control, store=store, preset=preset,
        device_label=prepared.device_label, progress_interval=progress_interval, threads_cap=threads_cap,
    )  # fmt: skip


def exit_code(result: Event, signal_code: int | None) -> int:
    if isinstance(result, RunFailed):
        return EXIT_USAGE if result.reason == "data" else EXIT_FAILED
    if isinstance(result, RunFinished) and result.status not in (
        EndStatus.COMPLETED,
        EndStatus.EARLY_STOPPED,
        EndStatus.STOPPED,
    ):
        return signal_code or 130
    return EXIT_OK
