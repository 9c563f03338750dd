"""Which epoch's weights are the best so far: the decision behind best.pt, the test at the end
and `--patience`.

`--monitor val-accuracy` (the default) keeps the weights of the most accurate epoch on the
validation images, a lower validation loss breaking ties; `val-loss` keeps them whenever the
validation loss decreased ("save the model if validation loss decreased"), accuracy breaking
ties. A run with no validation images goes by its training numbers the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

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
