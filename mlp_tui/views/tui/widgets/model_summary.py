"""The Model tab: the layer table, the settings and the data sizes. Its learning rate is the
run's current one once it was changed (by hand, or as the config planned), not the one the run
started at: the tab otherwise teaches a rate the run no longer uses."""

from __future__ import annotations

from textual.widgets import Static

from mlp_tui.core.config import RunConfig
from mlp_tui.core.datasets import dataset_info
from mlp_tui.core.events import LrChanged, RunStarted
from mlp_tui.core.presets import expectation_line
from mlp_tui.text.report import Holdout


def lr_words(config: RunConfig, change: LrChanged | None) -> str:
    """`lr 0.001`, `lr 1 (suggested for adadelta)`, or after a change
    `lr 0.05 (changed by hand in epoch 2; suggested 0.1 for sgd)` /
    `lr 0.05 (changed by hand in epoch 2; configured 0.1)`."""
    if change is None:
        return config.lr_text
    how = "as planned" if change.planned else "by hand"
    if config.lr_suggested:  # "lr 0.1 (suggested for sgd)" → "suggested 0.1 for sgd"
        start = config.lr_text.partition("(")[2].rstrip(")").replace("suggested", f"suggested {config.lr:g}", 1)
    else:
        start = f"configured {config.lr:g}"  # with a schedule, the rate it scales
    return f"lr {change.lr:.3g} (changed {how} in epoch {change.epoch}; {start})"


class ModelSummary(Static):
    def __init__(self, config: RunConfig, preset: str, **kwargs) -> None:
        super().__init__(f"Preparing {config.architecture} …", **kwargs)
        self.config, self.preset = config, preset
        self.started: RunStarted | None = None
        self.change: LrChanged | None = None  # the latest change of the learning rate
        self.expected = expectation_line(preset, config)  # read once, not at every change of lr

    def show_start(self, event: RunStarted) -> None:
        if self.change is not None and self.change.epoch > event.start_epoch:
            self.change = None  # made after the checkpoint a resumed run goes on from
        self.started = event
        self.show_summary()

    def show_lr_change(self, event: LrChanged) -> None:
        self.change = event
        self.show_summary()

    def show_summary(self) -> None:
        event, cfg = self.started, self.config
        if event is None:
            return
        self.update(
            f"{event.summary}\n\npreset {self.preset} · loss {cfg.loss} · optimizer {cfg.optimizer} · "
            f"{lr_words(cfg, self.change)} · batch {cfg.batch_size} · schedule {cfg.schedule} · "
            f"dropout {cfg.dropout:g}" + "".join(f" · {x}" for x in cfg.training_extras()) + "\n"
            f"data: {dataset_info(cfg.dataset).title}, {event.train_size:,} train / {event.val_size:,} validation / "
            f"{event.test_size:,} test images"
            + "".join(f"\n{note}" for note in [Holdout.of(event).note(), self.expected] if note)
        )
