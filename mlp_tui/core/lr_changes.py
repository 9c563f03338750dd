"""Learning-rate changes as a run setting (`lr_changes`): where in the run each new rate takes
over, as EPOCH:BATCH:RATE. A rate changed by hand is recorded here too, so a rerun of the run's
config makes the same change at the same batch and gives the same numbers.

Torch-free: the command line, presets and the reproduce line read and write these.
"""

from __future__ import annotations

import math
from typing import Any

LrChange = tuple[int, int, float]  # (epoch from 1, batches done in it, the new rate)

FORM = (
    "EPOCH:BATCH:RATE items separated by commas, e.g. 6:0:0.03,8:120:0.01 (EPOCH:RATE for batch 0; "
    "none for no change; in a preset [[6, 0, 0.03], [8, 120, 0.01]]); epochs from 1, batches from 0, rates > 0"
)
HELP = (
    "learning rates that take over during the run: 6:0:0.03,8:120:0.01 is 0.03 from the start of epoch 6, "
    "then 0.01 after 120 batches of epoch 8 (EPOCH:RATE: from the epoch's start; none: no change); a rate "
    "changed by hand during a run is added to its config, so config.toml and the Reproduce line repeat it"
)


def parse_lr_changes(value: Any) -> tuple[LrChange, ...]:
    """Text (`6:0:0.03,8:120:0.01`, `none`) or a list of [epoch, batch, rate] (a preset, JSON), in
    order of where they happen (stable: two at one batch keep their order, the later one wins).
    Raises ValueError saying what is wrong."""
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("", "none"):
            return ()
        items = [(_split(item.strip(), text), repr(item.strip())) for item in text.split(",")]
    elif isinstance(value, (list, tuple)):
        items = [(item, repr(list(item) if isinstance(item, tuple) else item)) for item in value]
    else:
        raise ValueError(f"{value!r} is not a list of changes")
    changes = [_change(item, shown) for item, shown in items]
    return tuple(sorted(changes, key=lambda c: c[:2]))


def _split(item: str, text: str) -> list[Any]:
    parts = item.split(":")
    if not item:
        raise ValueError(f"{text!r} has an empty item (changes are separated by single commas)")
    if len(parts) not in (2, 3):
        raise ValueError(f"{item!r} is not EPOCH:BATCH:RATE")
    if len(parts) == 2:
        parts.insert(1, "0")
    try:
        return [int(parts[0]), int(parts[1]), float(parts[2])]
    except ValueError:
        raise ValueError(f"{item!r} is not EPOCH:BATCH:RATE (whole numbers, then a number)") from None


def _change(item: Any, shown: str) -> LrChange:
    """One change, checked; `shown` is how the user wrote it, for the error."""
    if not isinstance(item, (list, tuple)) or len(item) != 3:
        raise ValueError(f"{shown} is not [epoch, batch, rate]")
    epoch, batch, lr = item
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (epoch, batch)):
        raise ValueError(f"{shown}: epoch and batch must be whole numbers")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)):
        raise ValueError(f"{shown}: the rate {lr!r} is not a number")
    if epoch < 1 or batch < 0:
        raise ValueError(f"{shown}: epochs count from 1 and batches from 0")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"{shown}: the rate {lr:g} is not > 0")
    return (epoch, batch, float(lr))


def format_lr_changes(changes: Any) -> str:
    """The command-line form: `6:0:0.03,8:120:0.01`, or `none`. Rates keep every digit
    (repr), so the command gives the very same rate."""
    return ",".join(f"{e}:{b}:{float(lr)!r}" for e, b, lr in changes) or "none"


def past_last_epoch(changes: tuple[LrChange, ...], epochs: int) -> str | None:
    """What is wrong when a change comes after the run's last epoch (it would never happen)."""
    late = next((c for c in changes if c[0] > epochs), None)
    return None if late is None else f"a change in epoch {late[0]} comes after the last epoch ({epochs})"


def with_change(changes: tuple[LrChange, ...], epoch: int, batch: int, lr: float) -> tuple[LrChange, ...]:
    """`changes` with one more, made by hand now: after any already at this batch (it was taken
    after them), so a rerun applies them in the same order."""
    return parse_lr_changes([*changes, (epoch, batch, lr)])
