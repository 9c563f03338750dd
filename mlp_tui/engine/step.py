"""One training batch, all on the device: gather it by index from the device-resident data,
distort it, forward (the model normalises the pixels), loss, backward, optimizer and schedule
step. The batch's loss and correct count are added to device buffers and never read back here,
so a step launches work and returns; the trainer reads the buffers a few times a second.

The epoch's bookkeeping (shuffling, resuming mid-epoch, commands, validation, best weights,
events, checkpoints) is the trainer's; this is what a CUDA graph would capture and replay.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.optim.lr_scheduler import LRScheduler

from mlp_tui.core.config import RunConfig
from mlp_tui.engine.augment import augment_batch
from mlp_tui.engine.data import Dataset
from mlp_tui.engine.insight import HealthMonitor
from mlp_tui.engine.model import l1_penalty


class TrainStep:
    def __init__(
        self,
        config: RunConfig,
        data: Dataset,
        forward: Callable[[torch.Tensor], torch.Tensor],
        optimizer: torch.optim.Optimizer,
        scheduler: LRScheduler | None,
        lossf: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        l1_weights: list[torch.Tensor],
        health: HealthMonitor | None,
        steps: int,
    ) -> None:
        self.config, self.data, self.forward = config, data, forward
        self.optimizer, self.scheduler, self.lossf = optimizer, scheduler, lossf
        self.l1_weights, self.health, self.steps = l1_weights, health, steps
        device = data.train_x.device
        self.batch_losses = torch.zeros(steps, device=device)  # for the NaN check, by batch
        self.loss_sum = torch.zeros((), device=device)  # summed over the epoch's images
        self.correct = torch.zeros((), dtype=torch.long, device=device)

    def new_epoch(self, loss_sum: torch.Tensor | None = None, correct: torch.Tensor | None = None) -> None:
        """Zero the buffers (or start from a resumed epoch's sums)."""
        self.batch_losses.zero_()
        self.loss_sum.zero_()
        self.correct.zero_()
        if loss_sum is not None:
            self.loss_sum += loss_sum.to(self.loss_sum.device)
        if correct is not None:
            self.correct += correct.to(self.correct.device)

    def __call__(self, b: int, idx: torch.Tensor) -> None:
        cfg, data = self.config, self.data
        xb, yb = data.train_x[idx], data.train_y[idx]
        if cfg.augment or cfg.elastic:
            xb = augment_batch(xb, cfg.augment, cfg.elastic)
        out = self.forward(xb)
        loss = self.lossf(out, yb)
        if cfg.l1:
            loss = loss + cfg.l1 * l1_penalty(self.l1_weights)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.health is not None:
            self.health.after_backward(b)
            self.health.before_step(last=b == self.steps - 1)
        self.optimizer.step()
        if self.health is not None:
            self.health.after_step()
        if self.scheduler is not None:
            self.scheduler.step()
        with torch.no_grad():
            d = loss.detach()
            self.batch_losses[b] = d
            self.loss_sum += d * len(idx)
            self.correct += (out.argmax(1) == yb).sum()
