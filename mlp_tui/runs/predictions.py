"""A run's best weights on its validation images (while it trains) or its test images (once it
has ended: the test set is looked at once, at the end, or it would steer the tuning): what it
predicts for each, to show a page of them with the predicted and true class (right ones and wrong
ones apart), or only the wrong ones, or one class. Torch is imported here, so a view calls these
on a worker thread."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from mlp_tui.core.config import RunConfig
from mlp_tui.core.errors import DataError
from mlp_tui.engine.data import load_test_split, load_val_split
from mlp_tui.engine.model import probabilities
from mlp_tui.engine.splits import test_part
from mlp_tui.runs.layout import BEST_CHECKPOINT, LAST_CHECKPOINT
from mlp_tui.runs.weights import first_checkpoint, load_draw_model

PREDICT_BATCH = 2048  # on the CPU: the training process keeps the device to itself


@dataclass(frozen=True)
class SplitPredictions:
    split: str  # "val" or "test"
    checkpoint: Path
    stamp: tuple[str, int]  # changes when the checkpoint does
    epoch: int
    classes: tuple[str, ...]
    dataset: str
    pixels: torch.Tensor  # (N, 784) uint8, the split's images
    labels: torch.Tensor  # (N,) int64, the true classes
    predicted: torch.Tensor  # (N,) int64
    probabilities: torch.Tensor  # (N, classes) float

    @property
    def count(self) -> int:
        return len(self.labels)

    @property
    def right(self) -> torch.Tensor:
        return self.predicted == self.labels

    def select(self, *, wrong: bool = False, true_class: int | None = None) -> torch.Tensor:
        """The positions of the images to show, in the split's order: all of them, the wrong ones,
        or those of one true class."""
        keep = ~self.right if wrong else torch.ones(self.count, dtype=torch.bool)
        if true_class is not None:
            keep &= self.labels == true_class
        return keep.nonzero().squeeze(1)


def best_checkpoint(run_dir: Path) -> Path:
    """best.pt (the weights the run keeps: the best on validation so far), else last.pt."""
    return first_checkpoint(run_dir, (BEST_CHECKPOINT, LAST_CHECKPOINT))


_TEST_SPLITS: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor]] = {}  # read once per dataset


def cached_test_split(dataset: str, data_dir: str | Path | None) -> tuple[torch.Tensor, torch.Tensor]:
    key = (dataset, str(data_dir or ""))
    if key not in _TEST_SPLITS:
        _TEST_SPLITS[key] = load_test_split(dataset, data_dir, device=torch.device("cpu"))
    return _TEST_SPLITS[key]


# Read once per dataset and holdout: (dataset, data folder, val_from, val_split, seed).
_VAL_SPLITS: dict[tuple[str, str, str, float, int], tuple[torch.Tensor, torch.Tensor]] = {}


def cached_val_split(config: RunConfig, data_dir: str | Path | None) -> tuple[torch.Tensor, torch.Tensor]:
    key = (config.dataset, str(data_dir or ""), config.val_from, config.val_split, config.seed)
    if key not in _VAL_SPLITS:
        _VAL_SPLITS[key] = load_val_split(config.dataset, data_dir, val_split=config.val_split, seed=config.seed,
                                          val_from=config.val_from)  # fmt: skip
    return _VAL_SPLITS[key]


@torch.inference_mode()
def predict_split(
    run_dir: Path, split: str, checkpoint: Path | None = None, data_dir: str | Path | None = None
) -> SplitPredictions:
    """Every image of the run's validation ("val") or test split through the weights of
    `checkpoint` (default: best_checkpoint). CheckpointError for a missing or unusable
    checkpoint, DataError for data (and for a run that holds out no validation images)."""
    path = checkpoint or best_checkpoint(run_dir)
    model = load_draw_model(Path(run_dir), path)
    config = model.loaded.config
    if split == "val":
        x, y = cached_val_split(config, data_dir)
        if not len(y):
            raise DataError(f"This run holds out no validation images (val split {config.val_split:g}): "
                            "its test images are predicted when it has ended.")  # fmt: skip
    else:
        x, y = cached_test_split(config.dataset, data_dir)
        # The images the run is tested on: with --val-from test, what its validation images leave.
        x, y = test_part(x, y, val_from=config.val_from, val_split=config.val_split, seed=config.seed)
    net = model.loaded.model
    probs = torch.cat([probabilities(net(x[i : i + PREDICT_BATCH]), config).float()
                       for i in range(0, len(x), PREDICT_BATCH)])  # fmt: skip
    return SplitPredictions(
        split=split, checkpoint=path, stamp=model.stamp, epoch=model.epoch, classes=model.classes,
        dataset=config.dataset, pixels=x, labels=y, predicted=probs.argmax(1), probabilities=probs,
    )  # fmt: skip
