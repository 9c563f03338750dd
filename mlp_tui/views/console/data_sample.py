"""`mlp-tui data`: a batch of training images as the network receives them in given settings,
printed as text art with their labels (the Data view shows the same batch in the app)."""

from __future__ import annotations

from pathlib import Path

from mlp_tui.core.config import RunConfig
from mlp_tui.core.datasets import class_label, dataset_info, distortion_words, distorts
from mlp_tui.text.render import SIDE
from mlp_tui.text.report import fold
from mlp_tui.views.console.digit_art import cells_per_row, grid_lines

ROWS = 4  # rows of digits `mlp-tui data` prints unless told how many images


def distortion_text(config: RunConfig, *, detail: bool = True) -> str:
    """The distortions a run with these settings applies, in words (`detail`: with amounts)."""
    if not (config.augment or config.elastic):
        return "undistorted (--augment 0, --elastic 0)"
    words = distortion_words(config.dataset, config.augment, config.elastic, detail=detail)
    applied = distorts(dataset_info(config.dataset).distortions, config.augment, config.elastic)
    return ("distorted: " if applied else "undistorted: ") + ", ".join(words)


def default_count(width: int) -> int:
    return ROWS * cells_per_row(width, SIDE)


def pixel_value_lines(pixels: list[int], width: int) -> list[str]:
    """A 28x28 image's pixel values (0..255) as a grid of numbers, one line per pixel row. Where
    a row of 28 does not fit `width`, the columns come in even blocks, one under the other."""
    blocks = -(-SIDE // max(1, (width + 1) // 4))  # a number takes 3 characters and a space
    per_block = -(-SIDE // blocks)
    lines: list[str] = []
    for first in range(0, SIDE, per_block):
        columns = range(first, min(first + per_block, SIDE))
        if blocks > 1:
            lines += ([""] if first else []) + [f"columns {columns[0]}-{columns[-1]}:"]
        lines += [" ".join(f"{pixels[row * SIDE + c]:3d}" for c in columns) for row in range(SIDE)]
    return lines


def data_report(config: RunConfig, preset: str, data_dir: str | Path | None, *, count: int | None, width: int,
                ascii: bool, values: bool = False) -> str:  # fmt: skip
    """A header, then `count` training images (default: ROWS rows of as many as fit `width`)
    drawn with the config's seed and distorted as training would, each labelled; with `values`,
    each image's pixel values as numbers instead (default: one image). Raises DataError when the
    data cannot be read."""
    import torch

    from mlp_tui.engine.data import load_train_split
    from mlp_tui.engine.sample import sample_batch

    x, y = load_train_split(config.dataset, data_dir, val_split=config.val_split, seed=config.seed,
                            subset=config.subset, val_from=config.val_from)  # fmt: skip
    generator = torch.Generator().manual_seed(config.seed)
    count = count or (1 if values else default_count(width))
    info = dataset_info(config.dataset)
    batch = sample_batch(x, y, count, augment=config.augment, elastic=config.elastic, generator=generator,
                         kinds=info.distortions)  # fmt: skip
    if values:
        return _values_report(batch, config, preset, info, len(x), width)
    captions = [[class_label(info.classes, c)] for c in batch.labels.tolist()]
    head = [
        f"{info.title}: {len(batch)} of the {len(x):,} training images as the network receives them "
        f"(preset {preset}, seed {config.seed}), {distortion_text(config)}; before normalisation.",
        "",
    ]
    return "\n".join(fold(head, width) + grid_lines(batch.seen, captions, width, ascii)).rstrip() + "\n"


def _values_report(batch, config: RunConfig, preset: str, info, total: int, width: int) -> str:
    """Each image of `batch` as the numbers the network receives, before normalisation."""
    import textwrap

    n = len(batch)
    lines = textwrap.wrap(
        f"{info.title}: pixel values of {n} of the {total:,} training images as the network receives them "
        f"(preset {preset}, seed {config.seed}), {distortion_text(config)}; before normalisation (0: background, "
        "255: the brightest).", width,
    )  # fmt: skip
    for i, (pixels, label) in enumerate(zip(batch.seen.tolist(), batch.labels.tolist(), strict=True)):
        lines += ["", f"image {i + 1} of {n}: {class_label(info.classes, label)}", *pixel_value_lines(pixels, width)]
    return "\n".join(lines) + "\n"
