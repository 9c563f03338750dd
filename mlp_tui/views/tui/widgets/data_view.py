"""The Data view: a sample of training images exactly as the network receives them in the current
settings (the random rotation, scale and shift and the elastic bending of --augment and
--elastic, before normalisation), each with its label, on the shared digit grid. `r` shows the
same images raw (as stored), `f` draws a fresh sample.

The sample is not one of the run's batches (it holds SAMPLE images whatever the batch size), and
the header says so. The training images are read and the sample distorted on a worker thread
(engine/sample.py, with the training step's own augment_batch), when the view is first shown.
"""

from __future__ import annotations

import functools
import random
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.binding import Binding
from textual.message import Message

from mlp_tui.core.config import RunConfig
from mlp_tui.core.datasets import class_label, dataset_info
from mlp_tui.views.console.data_sample import distortion_text
from mlp_tui.views.tui.widgets.digit_grid import DigitGrid, GridSource

if TYPE_CHECKING:
    from mlp_tui.engine.sample import SampleBatch

SAMPLE = 256  # images a sample holds: pages of them, then `f` for fresh ones


class SampleSource(GridSource):
    def __init__(self, batch, config: RunConfig, raw: bool, number: int) -> None:
        self.batch, self.config, self.raw, self.number = batch, config, raw, number
        self.count = len(batch)
        self.classes = dataset_info(config.dataset).classes
        self.labels = batch.labels.tolist()

    def images(self, start: int, stop: int):
        return (self.batch.raw if self.raw else self.batch.seen)[start:stop]

    def captions(self, start: int, stop: int, ascii: bool) -> list:
        return [[[(class_label(self.classes, c), "bold")]] for c in self.labels[start:stop]]

    def header(self) -> str:
        if self.raw and self.batch.distorted:
            what = "raw, as stored (r: as the network sees them)"
        else:
            what = f"{distortion_text(self.config, detail=False)}, as the network sees them"  # what fits 80 first
        title = dataset_info(self.config.dataset).title
        # The distortion first (what this view is for), then what the count is: not a batch.
        return (f"{what} · a sample of {self.count} {title} training images, batch size "
                f"{self.config.batch_size} (f: another sample)")  # fmt: skip


@functools.lru_cache(maxsize=1)
def _train_split(dataset: str, data_dir: str, val_split: float, seed: int, subset: int, val_from: str = "train"):
    """The images a run trains on, kept for the next batch (60,000 images are 47 MB)."""
    from mlp_tui.engine.data import load_train_split

    return load_train_split(dataset, data_dir or None, val_split=val_split, seed=seed, subset=subset, val_from=val_from)


class DataView(DigitGrid):
    BINDINGS = [
        Binding("r", "toggle_raw", "Raw/distorted"),
        Binding("f", "fresh", "New sample"),
    ]

    class Sampled(Message):
        def __init__(self, request: int, batch, error: str | None) -> None:
            super().__init__()
            self.request, self.batch, self.error = request, batch, error

    def __init__(self, config: RunConfig, data_dir: str | Path | None = None, **kwargs) -> None:
        super().__init__("Reading the training images …", **kwargs)
        self.config, self.data_dir = config, data_dir
        self.raw = False
        # Not `self.batch`: that is Widget.batch(), which Textual's recompose() calls.
        self.sample: SampleBatch | None = None  # once drawn
        self.number = 0  # samples drawn so far
        self._request = 0
        self._asked = False

    def on_show(self) -> None:
        if not self._asked:
            self.action_fresh()

    # -- actions --------------------------------------------------------------------------------
    def action_toggle_raw(self) -> None:
        if self.sample is not None:
            self.raw = not self.raw
            self.set_source(SampleSource(self.sample, self.config, self.raw, self.number), keep_page=True)

    def action_fresh(self) -> None:
        self._asked = True
        self._request += 1
        # The first sample's images come from the run's seed (as `mlp-tui data --seed` picks them),
        # later ones at random.
        seed = self.config.seed if self.number == 0 else random.randrange(2**62)
        self._sample(self._request, self.config, str(self.data_dir or ""), seed)

    @work(thread=True, exclusive=True, group="data-sample", exit_on_error=False)
    def _sample(self, request: int, config: RunConfig, data_dir: str, seed: int) -> None:
        try:
            import torch

            from mlp_tui.engine.sample import sample_batch

            x, y = _train_split(config.dataset, data_dir, config.val_split, config.seed, config.subset, config.val_from)
            generator = torch.Generator().manual_seed(seed)
            batch = sample_batch(x, y, SAMPLE, augment=config.augment, elastic=config.elastic, generator=generator,
                                 kinds=dataset_info(config.dataset).distortions)  # fmt: skip
            self.post_message(self.Sampled(request, batch, None))
        except Exception as exc:  # DataError says what to do; anything else must not take the app down
            from mlp_tui.core.errors import DataError

            text = str(exc) if isinstance(exc, DataError) else (
                f"cannot read the training images: {type(exc).__name__}: {exc}")  # fmt: skip
            self.post_message(self.Sampled(request, None, text))

    def on_data_view_sampled(self, message: Sampled) -> None:
        message.stop()
        if message.request != self._request:
            return  # overtaken by a newer sample
        if message.batch is None:
            self.set_source(None)
            self.show_note(message.error or "")
            return
        self.sample, self.number = message.batch, self.number + 1
        self.notice = ""
        self.set_source(SampleSource(self.sample, self.config, self.raw, self.number))
