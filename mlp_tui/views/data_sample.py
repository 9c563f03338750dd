"""`mlp-tui data`: a batch of training images as the network receives them in given settings,
printed as text art with their labels (the Data view shows the same batch in the app)."""

from __future__ import annotations

from pathlib import Path

from ..config import RunConfig
from ..datasets import class_label, dataset_info
from ..render import SIDE
from .digit_art import cells_per_row, grid_lines

ROWS = 4  # rows of digits `mlp-tui data` prints unless told how many images


def distortion_text(config: RunConfig) -> str:
    """The distortions a run with these settings applies, in words."""
    if not (config.augment or config.elastic):
        return "undistorted (--augment 0, --elastic 0)"
    parts = [f"augment {config.augment:g}"] if config.augment else []
    parts += [f"elastic {config.elastic:g} px"] if config.elastic else []
    return "distorted: " + ", ".join(parts)


def default_count(width: int) -> int:
    return ROWS * cells_per_row(width, SIDE)


def data_report(config: RunConfig, preset: str, data_dir: str | Path | None, *, count: int | None, width: int,
                ascii: bool) -> str:  # fmt: skip
    """A header, then `count` training images (default: ROWS rows of as many as fit `width`)
    drawn with the config's seed and distorted as training would, each labelled. Raises
    DataError when the data cannot be read."""
    import torch

    from ..engine.data import load_train_split
    from ..engine.sample import sample_batch

    x, y = load_train_split(config.dataset, data_dir, val_split=config.val_split, seed=config.seed,
                            subset=config.subset)  # fmt: skip
    generator = torch.Generator().manual_seed(config.seed)
    batch = sample_batch(x, y, count or default_count(width), augment=config.augment, elastic=config.elastic,
                         generator=generator)  # fmt: skip
    info = dataset_info(config.dataset)
    captions = [[class_label(info.classes, c)] for c in batch.labels.tolist()]
    head = [
        f"{info.title}: {len(batch)} of the {len(x):,} training images as the network receives them "
        f"(preset {preset}, seed {config.seed}),",
        f"{distortion_text(config)}; before normalisation.",
        "",
    ]
    return "\n".join(head + grid_lines(batch.seen, captions, width, ascii)).rstrip() + "\n"
