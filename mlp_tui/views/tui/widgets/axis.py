"""The y range a chart is drawn over, kept within the values its metric can take.

plotext fits its axis to the data, except when every value is equal (one epoch, or identical
curves): then it pads by half the value each way, and a flat 95.5 % accuracy stands on an axis
from 47.8 to 143.3 %. The charts set this range themselves instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

FLAT_PAD = 0.02  # a flat line sits in a band of ±2 % of its value
MIN_PAD = 0.01  # or this much, around 0


def y_limits(values: Iterable[float], floor: float | None = None, ceiling: float | None = None):
    """(low, high) for a chart of `values`, inside [floor, ceiling]; None with no values."""
    values = [v for v in values if math.isfinite(v)]  # a diverged loss is not a limit
    if not values:
        return None
    low, high = min(values), max(values)
    if high - low <= 1e-9 * max(1.0, abs(high)):
        pad = max(abs(high) * FLAT_PAD, MIN_PAD)
        low, high = low - pad, high + pad
        # Against a bound the band moves inside rather than shrinking: a flat 100 % shows as 96-100.
        if ceiling is not None and high > ceiling:
            low, high = low - (high - ceiling), ceiling
        if floor is not None and low < floor:
            low, high = floor, high + (floor - low)
    if floor is not None:
        low = max(low, floor)
    if ceiling is not None:
        high = min(high, ceiling)
    return low, high
