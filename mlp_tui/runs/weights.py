"""A run's first layer, read from its newest checkpoint: what each hidden unit looks for in the
28x28 input (its 784 incoming weights), which units are dead, and the model itself for drawing.

The newest checkpoint: last.pt while the run trains (the weights as of its last epoch), best.pt
once it has ended (the weights it was tested with). Torch is imported here, so a view calls these
on a worker thread.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlp_tui.core.datasets import DIGITS, class_label, dataset_info
from mlp_tui.runs.checkpoint import CheckpointError
from mlp_tui.runs.layout import BEST_CHECKPOINT, LAST_CHECKPOINT, METRICS_FILE
from mlp_tui.runs.status import FINAL_EVENTS
from mlp_tui.runs.store import load_run_checkpoint

TAIL_BYTES = 64 * 1024  # the end of metrics.jsonl that tells whether the run has ended


class NoCheckpointYet(CheckpointError):
    """The run has saved no checkpoint yet: its first epoch has not ended."""


@dataclass(frozen=True)
class FirstLayer:
    """The incoming weights of the first layer's units, one flat row of 784 per unit.

    `templates`: the model has no hidden layer, so the rows are the output layer's, one per class."""

    run_dir: Path
    checkpoint: Path
    stamp: tuple[str, int]  # (file name, mtime in ns): changes when the checkpoint does
    epoch: int
    units: list[list[float]]  # each 784 floats, row-major like the image
    templates: bool
    classes: tuple[str, ...] = DIGITS
    dead: frozenset[int] | None = None  # 0-based unit numbers; None: not measured
    dead_epoch: int | None = None  # the epoch whose layer_health listed them
    widths: tuple[int, ...] = field(default=())  # layer widths, e.g. (784, 16, 10)

    @property
    def count(self) -> int:
        return len(self.units)

    def label(self, index: int) -> str:
        """What a picture is called: the unit's number (dead ones marked), or the class."""
        if self.templates:
            return class_label(self.classes, index)
        return f"unit {index} dead" if self.dead and index in self.dead else f"unit {index}"

    def is_dead(self, index: int) -> bool:
        return not self.templates and self.dead is not None and index in self.dead

    def pictures(self, start: int, stop: int) -> list[tuple[list[float], str, bool]]:
        """(weights, label, dead) of units start..stop-1, as render.weight_grid_* take them."""
        return [(self.units[i], self.label(i), self.is_dead(i)) for i in range(start, min(stop, self.count))]

    def describe(self) -> str:
        """One line: where the weights come from and what the pictures are."""
        arch = "-".join(str(w) for w in self.widths)
        where = f"{self.checkpoint.name} (epoch {self.epoch}), model {arch}"
        if self.templates:
            return f"{where}: no hidden layer, so one template per class (the output layer's weights)"
        return f"{where}: the {self.count} units of the first hidden layer, each picture its 784 incoming weights"

    def dead_note(self) -> str:
        if self.templates:
            return ""
        if self.dead is None:
            return "dead units: not measured by this run"
        if not self.dead:
            return f"dead units: none (epoch {self.dead_epoch})"
        listed = ", ".join(str(i) for i in sorted(self.dead)[:20]) + (" …" if len(self.dead) > 20 else "")
        return f"dead units (never fired on the probe batch, epoch {self.dead_epoch}): {len(self.dead)}: {listed}"


def run_ended(run_dir: Path) -> bool:
    """The run's last event says it finished or failed (read from the end of metrics.jsonl)."""
    path = Path(run_dir) / METRICS_FILE
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - TAIL_BYTES))
            tail = f.read().decode("utf-8", errors="replace")
    except OSError:
        return False
    lines = [line for line in tail.splitlines() if line.strip()]
    if lines and not tail.endswith("\n"):
        lines.pop()  # half-written: the run is still writing it
    try:
        return bool(lines) and json.loads(lines[-1]).get("event") in FINAL_EVENTS
    except (ValueError, AttributeError):
        return False


def newest_checkpoint(run_dir: Path) -> Path:
    """last.pt while the run trains, best.pt once it ended; the other when one is missing.
    CheckpointError before the first epoch has been saved."""
    best_first = (BEST_CHECKPOINT, LAST_CHECKPOINT)
    return first_checkpoint(run_dir, best_first if run_ended(Path(run_dir)) else best_first[::-1])


def first_checkpoint(run_dir: Path, names: tuple[str, ...]) -> Path:
    """The first of the checkpoints `names` the run has saved; NoCheckpointYet before its first."""
    for name in names:
        if (Path(run_dir) / name).is_file():
            return Path(run_dir) / name
    raise NoCheckpointYet(
        f"{run_dir}: no checkpoint yet ({BEST_CHECKPOINT} or {LAST_CHECKPOINT}): it is saved when the first epoch ends"
    )


def stamp_of(path: Path) -> tuple[str, int]:
    try:
        return path.name, path.stat().st_mtime_ns
    except OSError:
        return path.name, 0


def _linear_weights(state: dict[str, Any]) -> list[Any]:
    """The 2-D weight matrices of the Linear layers, in the order of the model's layers."""

    def order(key: str) -> tuple[int, str]:
        head = key.split(".")[0]
        return (int(head), key) if head.isdigit() else (1 << 30, key)

    return [state[k] for k in sorted(state, key=order) if k.endswith("weight") and getattr(state[k], "ndim", 0) == 2]


def read_first_layer(run_dir: Path, checkpoint: Path | None = None) -> FirstLayer:
    """The first layer's weights from the run's newest checkpoint (or `checkpoint`), and its dead
    units from metrics.jsonl. CheckpointError for a missing or unusable checkpoint."""
    run_dir = Path(run_dir)
    path = checkpoint or newest_checkpoint(run_dir)
    stamp = stamp_of(path)
    data = load_run_checkpoint(path)
    linear = _linear_weights(data["model"])
    if not linear or int(linear[0].shape[1]) != 28 * 28:
        raise CheckpointError(f"{path}: no first layer of 784 inputs in its weights")
    epoch = data.get("epoch")
    epoch = int(epoch) if isinstance(epoch, int) else 0
    config = data["config"]
    try:
        classes = dataset_info(str(config.get("dataset", "mnist"))).classes
    except KeyError:
        classes = DIGITS
    templates = len(linear) == 1
    dead, dead_epoch = (None, None) if templates else dead_units(run_dir, epoch)
    return FirstLayer(
        run_dir=run_dir,
        checkpoint=path,
        stamp=stamp,
        epoch=epoch,
        units=linear[0].detach().float().cpu().tolist(),
        templates=templates,
        classes=classes,
        dead=dead,
        dead_epoch=dead_epoch,
        widths=(int(linear[0].shape[1]), *(int(w.shape[0]) for w in linear)),
    )


def dead_units(run_dir: Path, epoch: int | None = None) -> tuple[frozenset[int] | None, int | None]:
    """The units of layer 1 that never fired, as the run's layer_health events list them: those of
    `epoch` (the checkpoint's), else of the latest epoch before it. (None, None) when the run
    measured none (an older run, or one before its first epoch's statistics)."""
    found: tuple[frozenset[int] | None, int | None] = (None, None)
    try:
        with open(Path(run_dir) / METRICS_FILE, encoding="utf-8", errors="replace") as f:
            for line in f:
                if '"layer_health"' not in line:  # skip parsing the other events: most of the file
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a half-written last line
                at = record.get("epoch")
                if not isinstance(at, int) or (epoch and at > epoch):
                    continue
                first = next((layer for layer in record.get("layers", ()) if layer.get("layer") == 1), None)
                if first is None or not isinstance(first.get("dead_units"), list):
                    continue
                if found[1] is None or at >= found[1]:
                    found = (frozenset(int(i) for i in first["dead_units"]), at)
    except OSError:
        pass
    return found


@dataclass
class DrawModel:
    """A run's model for reading drawings: on the CPU (one image at a time is microseconds there,
    and the training process keeps its device to itself)."""

    run_dir: Path
    checkpoint: Path
    stamp: tuple[str, int]
    epoch: int
    classes: tuple[str, ...]
    loaded: Any  # runs.evaluate.LoadedRun, for evaluate.predict

    def predict(self, pixels: bytes) -> list[float]:
        from mlp_tui.runs.evaluate import predict

        return predict(self.loaded, pixels)


def load_draw_model(run_dir: Path, checkpoint: Path | None = None) -> DrawModel:
    """The model of the run's newest checkpoint (or `checkpoint`), ready for evaluate.predict."""
    import torch

    from mlp_tui.core.config import build_config
    from mlp_tui.engine.model import build_model
    from mlp_tui.runs.evaluate import LoadedRun

    run_dir = Path(run_dir)
    path = checkpoint or newest_checkpoint(run_dir)
    stamp = stamp_of(path)
    data = load_run_checkpoint(path)
    config = build_config(data["config"], source=f"{path} (its config)")
    model = build_model(config)
    try:
        model.load_state_dict(data["model"])
    except (RuntimeError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path}: the saved weights do not fit its config ({type(exc).__name__})") from None
    model.eval()
    epoch = data.get("epoch")
    epoch = int(epoch) if isinstance(epoch, int) else 0
    cpu = torch.device("cpu")
    loaded = LoadedRun(
        run_dir=run_dir, checkpoint=path, note=None, config=config, model=model, device=cpu,
        device_label="CPU", epoch=epoch, val_accuracy=data.get("val_accuracy", data.get("best_val_accuracy")),
        preset=str(data.get("preset", "?")),
    )  # fmt: skip
    return DrawModel(run_dir, path, stamp, epoch, dataset_info(config.dataset).classes, loaded)


def drawing_pixels(canvas: list[float] | bytes, framing: str = "box") -> bytes | None:
    """A 28x28 drawing (784 values 0..1, ink bright) framed as the run's dataset's pictures were
    (DatasetInfo.framing): "box" MNIST-like, the ink scaled into the 20x20 box and centred by
    mass; "fill" Fashion-MNIST-like, scaled to fill the 28x28 frame. None when nothing is drawn."""
    import numpy as np

    from mlp_tui.engine.digit_input import ImageError, prepare

    grey = np.asarray(canvas, dtype=np.float64).reshape(28, 28)
    if grey.max() <= 1.0:
        grey = grey * 255.0
    if grey.max() <= 0:
        return None
    # A black margin: the digit's border decides light or dark paper, and a stroke touching the
    # edge must not read as paper.
    framed = np.zeros((32, 32))
    framed[2:30, 2:30] = grey
    try:
        return prepare(framed, framing).pixels
    except ImageError:
        return None
