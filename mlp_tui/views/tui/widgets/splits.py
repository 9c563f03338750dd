"""How the views name the images an evaluation counted: the validation set while the run trains,
the test set (scored once, at the end, with the best weights) after it. One wording everywhere,
so a number never hides which split it came from."""

from __future__ import annotations

from mlp_tui.core.events import Evaluation

SPLITS = {"val": "validation", "test": "test"}


def split_name(split: str) -> str:
    return SPLITS.get(split, split)


def _when(evaluation: Evaluation) -> str:
    # The test split is scored with the weights of the run's best epoch, not its last.
    return f" (best weights, epoch {evaluation.epoch})" if evaluation.split == "test" else f", epoch {evaluation.epoch}"


def evaluated(evaluation: Evaluation) -> str:
    """`validation, epoch 3` or `test (best weights, epoch 3)`."""
    return split_name(evaluation.split) + _when(evaluation)


def on_the_set(evaluation: Evaluation) -> str:
    """`on the validation set, epoch 3` or `on the test set (best weights, epoch 3)`."""
    return f"on the {split_name(evaluation.split)} set{_when(evaluation)}"


def mistake_count(evaluation: Evaluation) -> int:
    """All the images the evaluation got wrong (it keeps only the most confident few)."""
    return sum(evaluation.class_total) - sum(evaluation.class_correct)
