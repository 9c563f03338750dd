"""A run's learning rate over time: the config's schedule, and its changes as part of its
config: those in `lr_changes` happen at exactly their epoch and batch, and one made by hand is
added there as it happens, so the run's config.toml, its checkpoints (and so `--resume`) and its
reproduce line all repeat it.

A rerun of a recorded config makes each change through the trainer's same `set_lr` at the same
batch, so at the same thread count it gives the very same numbers.
"""

from __future__ import annotations

import dataclasses

import torch
from torch.optim.lr_scheduler import LRScheduler

from mlp_tui.core.config import RunConfig
from mlp_tui.core.lr_changes import with_change
from mlp_tui.engine.sink import RunSink


def make_scheduler(optimizer: torch.optim.Optimizer, config: RunConfig, total_steps: int) -> LRScheduler | None:
    """The config's schedule over the run's `total_steps` batches (None: a constant rate)."""
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=max(total_steps, 1), cycle_momentum=config.optimizer != "sgd"
        )
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))
    return None


class LrPlan:
    """The changes a run's config holds, by the batch they happen at."""

    def __init__(self, config: RunConfig) -> None:
        self._due: dict[tuple[int, int], list[float]] = {}
        for epoch, batch, lr in config.lr_changes:
            self._due.setdefault((epoch, batch), []).append(lr)

    def due(self, epoch: int, batch: int) -> list[float]:
        """The rates to set before this batch (`batch` done in `epoch`), in order. A resumed run
        starts past the batches it did, so none of their changes is made twice."""
        return self._due.get((epoch, batch), [])


def record_change(
    config: RunConfig, store: RunSink | None, preset: str, epoch: int, batch: int, lr: float
) -> RunConfig:
    """`config` with a change made by hand; its config.toml says so at once (the checkpoints
    take the config from the trainer when they are next saved)."""
    config = dataclasses.replace(config, lr_changes=with_change(config.lr_changes, epoch, batch, lr))
    if store is not None:
        store.write_config(config, preset)
    return config


def set_rate(optimizer: torch.optim.Optimizer, scheduler: LRScheduler | None, lr: float) -> float:
    """Set the rate from the next step on; returns the rate before. A schedule is scaled to pass
    through the new rate, so it goes on from there rather than jumping back."""
    previous = optimizer.param_groups[0]["lr"]
    scale = lr / previous if previous > 0 else 1.0
    for group in optimizer.param_groups:
        for key in ("initial_lr", "max_lr", "min_lr"):  # OneCycleLR computes from these
            if key in group:
                group[key] *= scale
        group["lr"] = lr
    if scheduler is not None and hasattr(scheduler, "base_lrs"):
        scheduler.base_lrs = [base * scale for base in scheduler.base_lrs]
    return previous
