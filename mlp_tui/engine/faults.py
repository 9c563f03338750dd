"""The faults that end a run with a message rather than a crash, and the words for them."""

from __future__ import annotations

import torch

from mlp_tui.core.config import RunConfig


class NonFiniteLoss(Exception):
    def __init__(self, epoch: int, batch: int, value: float) -> None:
        super().__init__(f"loss became {value} at epoch {epoch}, batch {batch}")
        self.epoch, self.batch, self.value = epoch, batch, value


def out_of_memory(exc: BaseException) -> bool:
    """CUDA raises torch.OutOfMemoryError; the CPU and MPS allocators raise a plain RuntimeError."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def check_finite(batch_losses: torch.Tensor, lo: int, hi: int, epoch: int) -> None:
    """Raise NonFiniteLoss for the first batch in [lo, hi) whose loss is NaN or infinite. One
    read back from the device for the whole window, not one per batch."""
    if hi <= lo:
        return
    window = batch_losses[lo:hi]
    bad = (~torch.isfinite(window)).nonzero()
    if len(bad):
        i = int(bad[0])
        raise NonFiniteLoss(epoch, lo + i + 1, float(window[i]))


def diverged(exc: NonFiniteLoss, lr: float, config: RunConfig, epochs_done: int) -> str:
    return (
        f"training diverged: {exc} (learning rate {lr:.3g}). Try a smaller learning rate, "
        f"e.g. --lr {config.lr / 10:.3g}. Checkpoints and metrics up to epoch "
        f"{epochs_done} are kept."
    )


def no_memory(config: RunConfig) -> str:
    return (
        f"the device ran out of memory at batch size {config.batch_size}; "
        f"try --batch-size {max(1, config.batch_size // 4)} or a smaller model."
    )
