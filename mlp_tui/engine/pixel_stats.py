"""The pixel mean and standard deviation of a dataset's training images, which the model
standardises its input with: worked out exactly (from a histogram) and cached per copy of the data."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch

STATS_CHUNK = 1 << 22  # pixels per bincount: fast, and a small temporary
STATS_KEPT = 32  # dataset copies whose statistics the cache remembers


def pixel_stats(x: torch.Tensor) -> tuple[float, float]:
    """Mean and standard deviation of x / 255 over every pixel, exactly, from a histogram."""
    flat = x.reshape(-1)
    hist = torch.zeros(256, dtype=torch.int64)
    for start in range(0, len(flat), STATS_CHUNK):
        hist += torch.bincount(flat[start : start + STATS_CHUNK].cpu(), minlength=256)
    values = torch.arange(256, dtype=torch.float64) / 255
    n = hist.sum().double()
    mean = (hist * values).sum() / n
    var = (hist * values * values).sum() / n - mean * mean
    return float(mean), max(float(var.clamp(min=0).sqrt()), 1e-6)


def _stats_cache() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mlp-tui")) / "pixel-stats.json"


def cached_pixel_stats(path: Path, x: torch.Tensor) -> tuple[float, float]:
    """pixel_stats of a training file, remembered per file (path, size and time) in the user
    cache, so they are worked out once per dataset copy. A cache that cannot be read or written
    is only a missed shortcut."""
    info = path.stat()
    key = f"{path.resolve()}|{info.st_size}|{info.st_mtime_ns}"
    cache = _stats_cache()
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    known = known if isinstance(known, dict) else {}
    hit = known.get(key)
    if isinstance(hit, list) and len(hit) == 2 and all(isinstance(v, float) for v in hit):
        return hit[0], hit[1]
    stats = pixel_stats(x)
    known = dict(list(known.items())[-(STATS_KEPT - 1) :])  # the newest few copies
    known[key] = list(stats)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=".pixel-stats.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(known, f)
            os.replace(tmp, cache)  # whole or not at all: two runs may write at once
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass
    return stats
