"""The Predictions tab: a page of images with what the run's best weights (best.pt) predict for
each, right ones in green with ✓, wrong ones in red with ✗ and the true class; `w` cycles through
all of them, the wrong ones only, and each class in turn; `b` shows the probabilities.

While the run trains (or has not finished) the images are its validation set, and the header
says so; the test set only once the run has ended, as its report uses it: looking at the test
set while choosing settings would make its score a tuned one.

The model is loaded and the whole split predicted on a worker thread (runs/predictions.py),
only while the tab is shown, again when a better epoch has replaced best.pt or the run ended.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.binding import Binding

from mlp_tui.core.datasets import class_label
from mlp_tui.text.report import pct
from mlp_tui.views.console.digit_art import bar_lines, marks
from mlp_tui.views.tui.widgets.checkpoint_follower import CheckpointFollower
from mlp_tui.views.tui.widgets.digit_grid import DigitGrid, GridSource
from mlp_tui.views.tui.widgets.splits import split_name

if TYPE_CHECKING:
    from mlp_tui.runs.predictions import SplitPredictions

ALL, WRONG = "all", "wrong"  # what `w` cycles through, with each class's number


def next_show(show: str | int, classes: int) -> str | int:
    """all → wrong → class 0 → … → the last class → all."""
    if show == ALL:
        return WRONG
    if show == WRONG:
        return 0
    assert isinstance(show, int), show  # the rest: a class's number
    return show + 1 if show + 1 < classes else ALL


class PredictionSource(GridSource):
    caption_lines = 2
    has_bars = True

    def __init__(self, predictions, show: str | int) -> None:
        self.predictions, self.show = predictions, show
        self.classes = tuple(predictions.classes)
        self.what = f"{split_name(predictions.split)} images"  # what is counted: "validation images"
        # positions in the split
        self.order = predictions.select(wrong=show == WRONG, true_class=None if show in (ALL, WRONG) else int(show))
        self.count = len(self.order)
        right = predictions.right
        self.right_total, self.total = int(right.sum()), predictions.count
        self.right_shown = int(right[self.order].sum())

    def _page(self, start: int, stop: int):
        return self.order[start:stop]

    def images(self, start: int, stop: int):
        return self.predictions.pixels[self._page(start, stop)]

    def captions(self, start: int, stop: int, ascii: bool) -> list:
        p = self.predictions
        idx = self._page(start, stop)
        right_mark, wrong_mark = marks(ascii)
        out = []
        for pred, true, conf in zip(p.predicted[idx].tolist(), p.labels[idx].tolist(),
                                    p.probabilities[idx].max(1).values.tolist(), strict=True):  # fmt: skip
            said = f"{class_label(self.classes, pred)} {conf * 100:.1f}%"
            if pred == true:
                out.append([[(f"{right_mark} {said}", "bold green")], []])
            else:
                out.append([[(f"{wrong_mark} {said}", "bold red")],
                            [(f"true {class_label(self.classes, true)}", "green")]])  # fmt: skip
        return out

    def bars(self, start: int, stop: int, colour: bool, ascii: bool) -> list:
        p = self.predictions
        idx = self._page(start, stop)
        return [bar_lines(probs, self.classes, pred, true, colour=colour, ascii=ascii)
                for probs, pred, true in zip(p.probabilities[idx].tolist(), p.predicted[idx].tolist(),
                                             p.labels[idx].tolist(), strict=True)]  # fmt: skip

    def describe(self) -> str:
        if self.show == ALL:
            return f"all {self.total:,} {self.what}, {pct(self.right_total / max(self.total, 1))} right"
        if self.show == WRONG:
            return f"the {self.count:,} wrong of {self.total:,} {self.what}"
        rate = pct(self.right_shown / max(self.count, 1))
        return f"class {class_label(self.classes, int(self.show))}: {self.count:,} {self.what}, {rate} right"

    def empty_text(self) -> str:
        p = self.predictions
        if self.show == WRONG:
            return f"{p.checkpoint.name} (epoch {p.epoch}): all {self.total:,} {self.what} right, none wrong (w: next)"
        return f"{p.checkpoint.name} (epoch {p.epoch}): no {self.what} to show (w: next)"

    def header(self) -> str:
        p = self.predictions
        later = " · the test images: once the run has ended" if p.split == "val" else ""
        return f"{self.describe()} · {p.checkpoint.name}, epoch {p.epoch}{later}"


class PredictionsView(CheckpointFollower, DigitGrid):
    BINDINGS = [Binding("w", "cycle_show", "All/wrong/class")]

    waiting_note = "No checkpoint yet: predictions appear when the first epoch ends (with the best weights)."

    def __init__(self, run_dir: str | Path | None = None, data_dir: str | Path | None = None, **kwargs) -> None:
        super().__init__("No run yet: predictions appear when its first epoch ends.", **kwargs)
        self.follow(run_dir)
        self.data_dir = data_dir
        self.predictions: SplitPredictions | None = None  # once read
        self.show: str | int = ALL  # "all", "wrong" or a class number
        self.split = "val"  # until the run has ended: the test set is for the end (set_split)

    @property
    def reading_note(self) -> str:
        return f"Predicting the {split_name(self.split)} images with the best weights of {{name}} …"

    @property
    def failure(self) -> str:
        return f"cannot predict the {split_name(self.split)} images"

    def set_split(self, split: str) -> None:
        """ "val" while the run trains (or is not finished), "test" once it has ended."""
        if split != self.split:
            self.split = split
            self.forget()
            self._request += 1  # a read of the other split under way is not wanted any more
            self.epoch_ended()  # read this one (now if shown, else when shown)

    # -- what the follower reads and shows ------------------------------------------------------
    @property
    def current(self):
        return self.predictions

    def forget(self) -> None:
        self.predictions = None
        self.set_source(None)

    def checkpoint_for(self, run_dir: Path) -> Path:
        from mlp_tui.runs.predictions import best_checkpoint

        return best_checkpoint(run_dir)

    def read_checkpoint(self, run_dir: Path, path: Path):
        from mlp_tui.runs.predictions import predict_split

        return predict_split(run_dir, self.split, path, self.data_dir)

    def show_value(self, predictions) -> None:
        keep = self.predictions is not None and self.predictions.split == predictions.split
        self.predictions, self.notice = predictions, ""
        self.set_source(PredictionSource(predictions, self.show), keep_page=keep)

    # -- actions --------------------------------------------------------------------------------
    def action_cycle_show(self) -> None:
        if self.predictions is None:
            return
        self.show = next_show(self.show, len(self.predictions.classes))
        self.set_source(PredictionSource(self.predictions, self.show))
