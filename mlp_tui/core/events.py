"""The events a training run emits: the one contract between the engine and every view.

Each event is a frozen dataclass. `to_dict`/`from_dict` turn them into JSON-ready dicts for
`metrics.jsonl`, so a run can be replayed later exactly as it was seen live.
"""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from mlp_tui.core.datasets import DIGITS


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"event": self.kind}
        for f in dataclasses.fields(self):
            data[f.name] = _encode(getattr(self, f.name))
        return data


@dataclass(frozen=True)
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    config: dict[str, Any]
    preset: str
    device: str
    summary: str  # the model summary table, plain text
    parameters: int
    train_size: int
    val_size: int
    test_size: int
    run_dir: str | None = None
    start_epoch: int = 0
    time: float = 0.0
    step: str | None = None  # on a GPU: "captured" (a CUDA graph replayed) or "eager (why)"; on a CPU None


@dataclass(frozen=True)
class BatchProgress(Event):
    kind: ClassVar[str] = "batch_progress"
    epoch: int  # 1-based
    epochs: int
    batch: int  # batches done in this epoch
    batches: int
    loss: float  # running mean over the epoch so far
    accuracy: float
    samples_per_s: float
    lr: float | None = None  # the learning rate now (a schedule moves it every batch)
    logged: bool = False  # a --log-every batch: headless prints it as a line, the run directory keeps it
    # On CUDA with nvidia-ml-py: the GPU's utilisation (%) and its memory in use and in all (bytes).
    gpu_busy: int | None = None
    gpu_memory: int | None = None
    gpu_memory_total: int | None = None


@dataclass(frozen=True)
class EpochEnd(Event):
    kind: ClassVar[str] = "epoch_end"
    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    lr: float
    seconds: float
    samples_per_s: float
    is_best: bool


@dataclass(frozen=True)
class Misclassified:
    index: int  # position in the evaluated split
    pixels: bytes  # 28*28 uint8, row-major
    predicted: int
    true: int
    probabilities: tuple[float, ...]

    @property
    def confidence(self) -> float:
        return self.probabilities[self.predicted]


@dataclass(frozen=True)
class Evaluation(Event):
    kind: ClassVar[str] = "evaluation"
    split: str  # "val" or "test"
    epoch: int
    loss: float
    accuracy: float
    class_correct: tuple[int, ...]
    class_total: tuple[int, ...]
    confusion: tuple[tuple[int, ...], ...]  # rows: true class, columns: predicted class
    misclassified: tuple[Misclassified, ...] = field(default=())
    classes: tuple[str, ...] = DIGITS  # the class names, in label order

    @property
    def class_accuracy(self) -> tuple[float, ...]:
        return tuple(c / t if t else 0.0 for c, t in zip(self.class_correct, self.class_total, strict=True))


class EndStatus(StrEnum):
    """How a run ended: the one set of words for it, in metrics.jsonl, `runs`, a comparison's
    members and every view. Strings themselves, so records written before stay readable."""

    COMPLETED = "completed"  # every epoch trained
    EARLY_STOPPED = "early-stopped"  # validation stopped improving; the best epoch kept
    STOPPED = "stopped"  # asked to stop (a key, `compare` stopping its members)
    INTERRUPTED = "interrupted"  # Ctrl-C (SIGINT)
    TERMINATED = "terminated"  # SIGTERM
    HUNG_UP = "hung up"  # SIGHUP: its terminal went away
    FAILED = "failed"

    @classmethod
    def trained(cls, status: str) -> bool:
        """The run trained to its end: its test accuracy counts."""
        return status in (cls.COMPLETED, cls.EARLY_STOPPED)


@dataclass(frozen=True)
class RunEnded(Event):
    """A run's last event: RunFinished or RunFailed, each with a `status` (an EndStatus)."""

    if TYPE_CHECKING:

        @property
        def status(self) -> str: ...


@dataclass(frozen=True)
class RunFinished(RunEnded):
    kind: ClassVar[str] = "run_finished"
    status: str  # an EndStatus other than failed
    epochs_done: int
    best_epoch: int | None
    best_val_accuracy: float | None
    test_loss: float | None
    test_accuracy: float | None
    seconds: float
    message: str = ""


@dataclass(frozen=True)
class RunFailed(RunEnded):
    kind: ClassVar[str] = "run_failed"
    reason: str  # nan | data | out-of-memory | disk-full | error
    message: str
    epoch: int | None = None
    batch: int | None = None

    @property
    def status(self) -> str:
        return EndStatus.FAILED


@dataclass(frozen=True)
class LayerStats:
    """One layer's health at an epoch's end. Activations are measured on a fixed probe batch of
    validation images; gradients are sampled on the device during the epoch."""

    layer: int  # 1-based; the last one is the output layer (no activation statistics)
    units: int
    dead: float | None  # fraction of units that never fired on the probe batch (ReLU family)
    saturated: float | None  # fraction pinned near their limits (sigmoid, tanh) on the probe batch
    act_mean: float | None
    act_std: float | None
    weight_norm: float
    grad_norm: float  # mean over the epoch's sampled steps
    update_ratio: float  # |step of the weights| / |weights| at the epoch's last step (healthy: ~1e-3)
    dead_units: tuple[int, ...] = ()  # which units never fired (at most MAX_DEAD_LISTED)
    # Every unit has the same weights and bias, so they compute the same (zero initialisation).
    identical: bool = False


MAX_DEAD_LISTED = 1024


@dataclass(frozen=True)
class LayerHealth(Event):
    kind: ClassVar[str] = "layer_health"
    epoch: int
    layers: tuple[LayerStats, ...]


@dataclass(frozen=True)
class HealthWarning(Event):
    """Something going wrong, in plain words, with what to try: sent once, when it starts."""

    kind: ClassVar[str] = "health_warning"
    epoch: int
    code: str  # dead-units | saturated | identical-units | vanishing-gradients | exploding-updates | slow-updates |
    # overfitting | underfitting | eager-step (a GPU run's captured step given up)
    layer: int | None
    message: str  # "layer 2: 64 % of units never fire"
    advice: str  # "lower the learning rate or try leaky_relu"

    @property
    def text(self) -> str:
        return f"epoch {self.epoch}: {self.message} — {self.advice}"


@dataclass(frozen=True)
class LrChanged(Event):
    """The learning rate was changed during the run: by hand (from the app or `watch`), or as the
    run's config planned (`lr_changes`, where changes made by hand are recorded)."""

    kind: ClassVar[str] = "lr_changed"
    epoch: int  # the epoch in progress (1-based)
    batch: int  # batches done in it when the change took effect
    lr: float
    previous: float
    planned: bool = False  # from the config's lr_changes rather than by hand just now


@dataclass(frozen=True)
class Paused(Event):
    """Training stopped at a batch boundary to wait for a resume (sent when it actually waits,
    not when asked: a pause taken back before the next batch sends nothing)."""

    kind: ClassVar[str] = "paused"
    epoch: int  # the epoch in progress (1-based)
    batch: int  # batches done in it
    by: str | None = None  # "app" (its own keys) | "watcher" (the run's control file) | None


@dataclass(frozen=True)
class Resumed(Event):
    """Training went on after a Paused (a stop while paused ends the run without one)."""

    kind: ClassVar[str] = "resumed"
    epoch: int
    batch: int
    seconds: float  # how long it was paused
    by: str | None = None


@dataclass(frozen=True)
class ThreadsChanged(Event):
    """`--threads auto` moved to another CPU thread count: it trains faster now."""

    kind: ClassVar[str] = "threads_changed"
    epoch: int  # the epoch in progress (1-based)
    batch: int  # batches done in it when the change took effect
    threads: int
    previous: int
    why: str  # "1 trains 3.2x faster than 2 now"
    device: str  # the device label from now on, e.g. "CPU (1 thread, auto since epoch 3)"


EVENT_TYPES: dict[str, type[Event]] = {cls.kind: cls for cls in (
    RunStarted, BatchProgress, EpochEnd, Evaluation, RunFinished, RunFailed, LayerHealth, HealthWarning, LrChanged,
    Paused, Resumed, ThreadsChanged,
)}  # fmt: skip


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (Misclassified, LayerStats)):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _tupled(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    return value


def from_dict(data: dict[str, Any]) -> Event:
    """Rebuild an event from `Event.to_dict` output. Raises KeyError/TypeError on bad input."""
    cls = EVENT_TYPES[data["event"]]
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name == "misclassified":
            value = tuple(Misclassified(**m | {"pixels": base64.b64decode(m["pixels"]["b64"]),
                                               "probabilities": tuple(m["probabilities"])}) for m in value)  # fmt: skip
        elif f.name == "layers":
            value = tuple(LayerStats(**{k: _tupled(v) for k, v in layer.items()}) for layer in value)
        elif f.name != "config":
            value = _tupled(value)
        kwargs[f.name] = value
    return cls(**kwargs)
