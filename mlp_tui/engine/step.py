"""One training batch, all on the device: gather it by index from the device-resident data,
distort it, forward (the model normalises the pixels), loss, backward, optimizer and schedule
step. The batch's loss and correct count are added to device buffers and never read back here,
so a step launches work and returns; the epoch loop reads the buffers a few times a second.

The epoch's bookkeeping (shuffling, resuming mid-epoch, commands, validation, best weights,
events, checkpoints) is the epoch loop's and the trainer's. On a GPU, graph_step.py
replays this step as a captured CUDA graph.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Self

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from mlp_tui.core.config import RunConfig
from mlp_tui.core.datasets import HANDWRITING, dataset_info, distorts
from mlp_tui.engine.augment import augment_batch
from mlp_tui.engine.data import Dataset
from mlp_tui.engine.insight import HealthMonitor
from mlp_tui.engine.model import l1_penalty, linear_weights, loss_fn

Forward = Callable[[torch.Tensor], torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def steps_per_epoch(images: int, batch_size: int) -> int:
    """Batches in one pass over `images` (the last one may be shorter)."""
    return max(1, math.ceil(images / batch_size))


def compile_model(model: nn.Module) -> Forward:
    """torch.compile for the training steps. Where compiling fails (no C++ compiler for a CPU
    build, an unsupported GPU), dynamo falls back to running the model as it is."""
    import torch._dynamo

    torch._dynamo.config.suppress_errors = True
    # Static shapes: the one shorter last batch of an epoch costs a single extra compile.
    return torch.compile(model, dynamic=False)


class TrainStep:
    """Trains on one batch at a time; build it with `from_config`."""

    failed: str | None = None  # a captured step's: why it went back to this eager step

    def __init__(
        self,
        *,
        data: Dataset,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        lossf: LossFn,
        forward: Forward | None = None,
        scheduler: LRScheduler | None = None,
        health: HealthMonitor | None = None,
        batch_size: int,
        augment: float = 0.0,
        elastic: float = 0.0,
        distortions: tuple[str, ...] = HANDWRITING,
        l1: float = 0.0,
    ) -> None:
        self.data, self.model, self.optimizer, self.lossf = data, model, optimizer, lossf
        # Training steps go through `forward` (maybe compiled); checkpoints and evaluation use the model.
        self.forward: Forward = forward or model
        self.scheduler, self.health = scheduler, health
        self.augment, self.elastic, self.l1 = augment, elastic, l1
        self.distortions = distortions  # those that fit the dataset (core/datasets.py)
        self.distorts = distorts(distortions, augment, elastic)
        self.l1_weights = linear_weights(model)  # found once, not every batch
        self.batch_size = batch_size
        self.steps = steps_per_epoch(len(data.train_x), batch_size)
        device = data.train_x.device
        self.batch_losses = torch.zeros(self.steps, device=device)  # for the NaN check, by batch
        self.loss_sum = torch.zeros((), device=device)  # summed over the epoch's images
        self.correct = torch.zeros((), dtype=torch.long, device=device)

    @classmethod
    def from_config(
        cls,
        config: RunConfig,
        data: Dataset,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: LRScheduler | None = None,
        health: HealthMonitor | None = None,
    ) -> Self:
        """The step a run's config asks for: its loss, penalty, distortions and (with
        `compile`) a compiled forward pass."""
        return cls(
            data=data,
            model=model,
            optimizer=optimizer,
            lossf=loss_fn(config),
            forward=compile_model(model) if config.compile else None,
            scheduler=scheduler,
            health=health,
            batch_size=config.batch_size,
            augment=config.augment,
            elastic=config.elastic,
            distortions=dataset_info(config.dataset).distortions,
            l1=config.l1,
        )

    def set_order(self, order: torch.Tensor) -> None:
        """The epoch's order of images; this step is given each batch's indices instead."""

    def new_epoch(self) -> None:
        """Zero the buffers for an epoch that starts from its first batch."""
        self.batch_losses.zero_()
        self.loss_sum.zero_()
        self.correct.zero_()

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The epoch's running sums so far (read back to the host: for checkpoints only)."""
        return {"loss_sum": self.loss_sum.cpu(), "correct": self.correct.cpu()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Go on with an epoch begun before: its sums so far."""
        self.new_epoch()
        self.loss_sum += state["loss_sum"].to(self.loss_sum.device)
        self.correct += state["correct"].to(self.correct.device)

    def forward_loss(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch distorted (if asked), the model's output and the loss with its penalty."""
        if self.distorts:
            xb = augment_batch(xb, self.augment, self.elastic, kinds=self.distortions)
        out = self.forward(xb)
        loss = self.lossf(out, yb)
        if self.l1:
            loss = loss + self.l1 * l1_penalty(self.l1_weights)
        return out, loss

    def __call__(self, b: int, idx: torch.Tensor) -> None:
        yb = self.data.train_y[idx]
        out, loss = self.forward_loss(self.data.train_x[idx], yb)
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
