"""Which epoch's weights are the best so far: the decision behind best.pt, the test at the end
and `--patience`.

`--monitor val-accuracy` (the default) keeps the weights of the most accurate epoch on the
validation images, a lower validation loss breaking ties; `val-loss` keeps them whenever the
validation loss decreased ("save the model if validation loss decreased"), accuracy breaking
ties. A run with no validation images goes by its training numbers the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

Key = tuple[float, float]  # compared as a tuple: larger is better

DEFAULT = "val-accuracy"  # what checkpoints written before --monitor existed were chosen by


def score(monitor: str, accuracy: float, loss: float) -> Key:
    """An epoch's key: the monitored number first, the other one breaking ties."""
    return (-loss, accuracy) if monitor == "val-loss" else (accuracy, -loss)


def is_better(key: Key, best: Key | None) -> bool:
    """Strictly better: an epoch that only equals the best keeps the earlier weights."""
    return best is None or key > best


def patience_spent(since_best: int, patience: int) -> bool:
    """`--patience N`: N epochs in a row without a better key end the run (0: never)."""
    return patience > 0 and since_best >= patience


def saved_key(saved: Sequence[float] | None, saved_by: str | None, monitor: str) -> Key | None:
    """A checkpoint's best key in `monitor`'s order. Both orders hold the same two numbers, so a
    key saved by the other monitor (or before --monitor existed) is turned round, not lost."""
    if not saved:
        return None
    first, second = (float(v) for v in saved)
    return (first, second) if (saved_by or DEFAULT) == monitor else (second, first)


class BestEpoch:
    """The best epoch so far, its weights (kept in memory for the test at the end; best.pt holds
    them on disk) and the epochs since it, which `--patience` counts."""

    def __init__(self, monitor: str) -> None:
        self.monitor = monitor
        self.epoch: int | None = None
        self.key: Key | None = None
        self.val_accuracy: float | None = None
        self.weights: dict[str, torch.Tensor] | None = None
        self.since = 0

    def update(self, epoch: int, key: Key, val_accuracy: float | None, model: nn.Module) -> bool:
        """Whether `epoch` (scored `key`) is a new best; if so its weights are kept."""
        if not is_better(key, self.key):
            self.since += 1
            return False
        self.key, self.epoch, self.since = key, epoch, 0
        self.val_accuracy = val_accuracy
        self.weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return True

    def patience_spent(self, patience: int) -> bool:
        return patience_spent(self.since, patience)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the weights (best.pt's), under the keys last.pt has always used."""
        return {
            "best_epoch": self.epoch,
            "best_key": list(self.key) if self.key else None,
            "monitor": self.monitor,  # the order of best_key's two numbers
            "best_val_accuracy": self.val_accuracy,
            "since_best": self.since,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """From a last.pt, however old: one from before --monitor (or --patience) has no
        `monitor` (or `since_best`)."""
        self.epoch = state.get("best_epoch")
        self.key = saved_key(state.get("best_key"), state.get("monitor"), self.monitor)
        self.val_accuracy = state.get("best_val_accuracy")
        self.since = int(state.get("since_best", 0))
