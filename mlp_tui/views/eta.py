"""How long a run has left, from its events alone: torch-free, shared by the app, `watch` and the
headless printer. Pure functions of what the events said, so a paused run (which sends nothing)
keeps its estimate instead of counting down, and a replayed run gives the same answer."""

from __future__ import annotations

from collections.abc import Sequence

from mlp_tui.core.events import BatchProgress


def epoch_left(progress: BatchProgress, batch_size: int) -> float | None:
    """Seconds of training left in the epoch `progress` reports on, at the pace measured in it
    (the engine leaves pauses out of samples_per_s). None before there is a pace."""
    if progress.samples_per_s <= 0:
        return None
    return max(progress.batches - progress.batch, 0) * batch_size / progress.samples_per_s


def run_left(
    epochs: int, epochs_done: int, epoch_seconds: Sequence[float], progress: BatchProgress | None, batch_size: int
) -> float | None:
    """Seconds of training left in the run: the rest of the epoch in progress, then each epoch
    after it at the mean time of the epochs done (in the first epoch, at its own pace so far).
    None while nothing says how fast the run goes."""
    current = progress if progress is not None and progress.epoch > epochs_done else None
    pace = epoch_left(current, batch_size) if current is not None else None
    if epoch_seconds:
        per_epoch = sum(epoch_seconds) / len(epoch_seconds)
    elif current is not None and current.samples_per_s > 0:
        per_epoch = current.batches * batch_size / current.samples_per_s
    else:
        return None
    if current is None:
        return max(epochs - epochs_done, 0) * per_epoch
    left_here = pace if pace is not None else per_epoch
    return left_here + max(epochs - current.epoch, 0) * per_epoch


def clock(seconds: float | None) -> str:
    """12:05, or 1:02:05 past the hour; --:-- for no estimate."""
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


def duration(seconds: float) -> str:
    """A span in words: 12 s, 3 min 5 s, 1 h 2 min."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {s} s" if s else f"{minutes} min"
    h, m = divmod(minutes, 60)
    return f"{h} h {m} min" if m else f"{h} h"
