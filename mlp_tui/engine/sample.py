"""A batch of training images as the network receives them: picked at random from the training
split, distorted by the training step's own augment_batch (before the model normalises them),
kept beside the same images undistorted. For `mlp-tui data` and the app's Data view."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mlp_tui.core.datasets import HANDWRITING, distorts
from mlp_tui.engine.augment import augment_batch


@dataclass(frozen=True)
class SampleBatch:
    raw: torch.Tensor  # (n, 784) uint8: the images as stored
    seen: torch.Tensor  # (n, 784) uint8: as the network receives them (distorted, if the settings say so)
    labels: torch.Tensor  # (n,) int64
    distorted: bool  # whether `seen` differs from `raw` by design (augment or elastic on)

    def __len__(self) -> int:
        return len(self.labels)


def sample_batch(
    x: torch.Tensor,
    y: torch.Tensor,
    count: int,
    *,
    augment: float,
    elastic: float,
    generator: torch.Generator | None = None,
    kinds: tuple[str, ...] = HANDWRITING,
) -> SampleBatch:
    """`count` images of (x, y) at random (all of them, shuffled, if there are fewer), distorted
    in one augment_batch call on their device."""
    count = min(count, len(x))
    device = x.device
    order = torch.randperm(len(x), generator=generator)[:count].to(device)
    raw, labels = x[order], y[order].long()
    distorted = distorts(kinds, augment, elastic)
    if distorted:
        # augment_batch samples on the batch's device: its generator must live there too.
        local = generator if generator is None or generator.device == device else _on(device, generator)
        seen = (
            augment_batch(raw, augment, elastic, generator=local, kinds=kinds).round_().clamp_(0, 255).to(torch.uint8)
        )
    else:
        seen = raw
    return SampleBatch(raw, seen, labels, distorted)


def _on(device: torch.device, generator: torch.Generator) -> torch.Generator:
    """A generator on `device` seeded from `generator`, so one seed still draws the same batch."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    return torch.Generator(device=device).manual_seed(seed)
