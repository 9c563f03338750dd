"""Plain-text reports built from events: the per-class table, confusion matrix, mistakes."""

from __future__ import annotations

from dataclasses import dataclass

from mlp_tui.core.datasets import class_labels
from mlp_tui.core.events import BatchProgress, EpochEnd, Evaluation, Misclassified, RunFinished, RunStarted
from mlp_tui.text.render import digit_grid

MONITORED = {"val-accuracy": "accuracy", "val-loss": "loss"}


def pct(x: float | None) -> str:
    return "  n/a" if x is None else f"{x * 100:.2f} %"


def epoch_line(e: EpochEnd) -> str:
    """The one plain line a log gets per epoch."""
    width = len(str(e.epochs))
    val = "" if e.val_loss is None else f"  val loss {e.val_loss:.4f} acc {pct(e.val_accuracy)}"
    return (
        f"epoch {e.epoch:>{width}}/{e.epochs}  train loss {e.train_loss:.4f} acc {pct(e.train_accuracy)}"
        f"{val}  lr {e.lr:.3g}  {e.seconds:.1f}s  {e.samples_per_s:,.0f} img/s{'  *best' if e.is_best else ''}"
    )


def batch_line(e: BatchProgress) -> str:
    """A --log-every line, indented under its epoch: loss and accuracy of the epoch so far."""
    width = len(str(e.batches))
    lr = "" if e.lr is None else f"  lr {e.lr:.3g}"
    gpu = f"  {words}" if (words := gpu_words(e)) else ""
    return (f"  epoch {e.epoch} batch {e.batch:>{width}}/{e.batches}  loss {e.loss:.4f}  acc {pct(e.accuracy)}{lr}  "
            f"{e.samples_per_s:,.0f} img/s{gpu}")  # fmt: skip


def device_words(device: str, step: str | None) -> str:
    """`CUDA NVIDIA H100 80GB HBM3, step: captured`: the device, and on a GPU how a batch trains."""
    return device if step is None else f"{device}, step: {step}"


def gpu_words(e: BatchProgress | None) -> str:
    """`GPU 87 % busy, 1.2 of 80 GiB in use` ("" without figures: not CUDA, or no nvidia-ml-py).
    The memory is the whole GPU's: other processes' and CUDA's own, not only the run's tensors."""
    if e is None or e.gpu_busy is None or e.gpu_memory is None or e.gpu_memory_total is None:
        return ""
    total = e.gpu_memory_total / 2**30
    return f"GPU {e.gpu_busy} % busy, {e.gpu_memory / 2**30:.1f} of {total:.{0 if total >= 10 else 1}f} GiB in use"


@dataclass(frozen=True)
class Holdout:
    """Which images chose the best epoch and which tested it, in the words headers and reports use."""

    monitor: str = "val-accuracy"
    val_from: str = "train"
    val_size: int | None = None  # None: some were held out, how many is not known here
    test_size: int = 0

    @classmethod
    def of(cls, started: RunStarted) -> Holdout:
        c = started.config  # a run recorded before these settings existed had the defaults
        return cls(c.get("monitor", "val-accuracy"), c.get("val_from", "train"), started.val_size, started.test_size)

    @property
    def best_by(self) -> str:
        """`validation loss`: what picked the best epoch (the training numbers when nothing was held out)."""
        return f"{'training' if self.val_size == 0 else 'validation'} {MONITORED.get(self.monitor, self.monitor)}"

    def note(self) -> str:
        """Said wherever the split sizes are, when validation and test images share the test split."""
        if self.val_from != "test" or self.val_size == 0:
            return ""
        return (f"validation: {self.val_size:,} images from the test split (the rest, {self.test_size:,}, is the "
                "test set; choosing the best epoch on test images flatters the test result)")  # fmt: skip


def class_table_lines(ev: Evaluation) -> list[str]:
    labels = class_labels(ev.classes)
    width = max(5, *(len(label) for label in labels))
    lines = [f"{'class':<{width}}  accuracy   correct/total"]
    for label, ok, total in zip(labels, ev.class_correct, ev.class_total, strict=True):
        acc = ok / total if total else 0.0
        lines.append(f"{label:<{width}}  {acc * 100:6.2f} %   {ok:>6}/{total}")
    return lines


def confusion_lines(ev: Evaluation) -> list[str]:
    """Rows named by class; columns by class number (names would not fit side by side)."""
    labels = class_labels(ev.classes)
    first = max(9, *(len(label) for label in labels))
    width = max(4, len(str(max(max(r) for r in ev.confusion))) + 1)
    lines = [f"{'true/pred':<{first}}" + "".join(f"{p:>{width}}" for p in range(len(labels)))]
    for label, row in zip(labels, ev.confusion, strict=True):
        lines.append(f"{label:<{first}}" + "".join(f"{n:>{width}}" for n in row))
    return lines


def mistake_label(ev: Evaluation, m: Misclassified) -> str:
    """`Sneaker (true: Sandal) 71 %`, `7 (true: 9) 98 %`."""
    return f"{ev.classes[m.predicted]} (true: {ev.classes[m.true]}) {m.confidence * 100:.0f} %"


def misclassified_lines(ev: Evaluation, count: int = 12, width: int = 80, ascii: bool = False) -> list[str]:
    items = [(m.pixels, mistake_label(ev, m)) for m in ev.misclassified[:count]]
    return digit_grid(items, width=width, ascii=ascii)


def final_report(
    finished: RunFinished,
    test: Evaluation | None,
    *,
    width: int = 80,
    ascii: bool = False,
    digits: int = 12,
    holdout: Holdout | None = None,
) -> str:
    """The test result and its tables; `holdout` (from the run's start) says what chose the best epoch."""
    out = []
    if finished.test_accuracy is not None:
        by = f" by {holdout.best_by}" if holdout else ""
        best = f", best epoch {finished.best_epoch}{by}" if finished.best_epoch else ""
        out.append(
            f"Test loss {finished.test_loss:.4f}  test accuracy {pct(finished.test_accuracy)}"
            f"  ({finished.status}, {finished.epochs_done} epoch(s){best}, {finished.seconds:.1f}s)"
        )
    else:
        out.append(f"Run {finished.status} after {finished.epochs_done} epoch(s): no test evaluation.")
    if holdout and holdout.note():
        out.append(holdout.note())
    if test is not None:
        out += ["", "Per-class test accuracy", *class_table_lines(test)]
        out += ["", "Confusion matrix (rows: true class, columns: predicted)", *confusion_lines(test)]
        if test.misclassified:
            shown = min(digits, len(test.misclassified))
            wrong = sum(test.class_total) - sum(test.class_correct)
            out += [
                "",
                f"Misclassified test images, most confident first ({shown} of {wrong}), "
                "labelled prediction (true: class) confidence:",
                "",
            ]
            out += misclassified_lines(test, digits, width, ascii)
    return "\n".join(fold(out, width)).rstrip() + "\n"


def fold(lines: list[str], width: int) -> list[str]:
    """Sentences wider than `width` on as many lines as they need (tables and pictures fit already)."""
    import textwrap

    return [part for line in lines for part in (textwrap.wrap(line, width) if len(line) > width else [line])]
