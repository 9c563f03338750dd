"""Which images train, which validate and which test, reproducibly from the seed.

Validation comes from the training images (the usual practice), or with `--val-from test` from
the test images, as some tutorials do: the rest of the test images is then the test set. Training,
`eval` and the app's views all cut the test split here, so they test on the same images.
"""

from __future__ import annotations

import torch


def split_indices(n: int, val_split: float, seed: int, subset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(kept, validation) positions among n images, reproducibly from the seed; `subset` keeps
    only that many of the kept ones."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = round(n * val_split)
    val_idx, train_idx = order[:n_val], order[n_val:]
    return (train_idx[:subset] if subset else train_idx), val_idx


def train_holdout(val_from: str, val_split: float) -> float:
    """The fraction of the training images held out for validation (none when it comes from the test images)."""
    return val_split if val_from == "train" else 0.0


def test_holdout(n: int, val_split: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(test, validation) positions among n test images for `--val-from test`. The test positions
    stay in file order, so the test set reads the same way as the whole split, only shorter."""
    rest, val_idx = split_indices(n, val_split, seed)
    return rest.sort().values, val_idx


def test_part(
    x: torch.Tensor, y: torch.Tensor, *, val_from: str, val_split: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The test images (and labels) a run with these settings is tested on: all of the test split,
    or what its validation images leave of it."""
    if val_from != "test":
        return x, y
    keep, _ = test_holdout(len(x), val_split, seed)
    return x[keep.to(x.device)], y[keep.to(y.device)]
