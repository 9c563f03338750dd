"""What layer health costs: the dropout preset's epoch time with health statistics on and off,
side by side in one process (alternating, so both see the same machine).

    python benchmarks/health.py [--rounds 3] [--device cpu]

Target (issue 13): on is within 5 % of off.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics

from common import mnist_dir, report

from mlp_tui.core.config import build_config
from mlp_tui.core.events import EpochEnd
from mlp_tui.core.presets import resolve_preset
from mlp_tui.engine.data import load_dataset
from mlp_tui.engine.model import configure_device, pick_device
from mlp_tui.engine.trainer import Trainer


def epoch_seconds(config, data, device) -> float:
    ends = []
    Trainer(config, data, device, emit=lambda e: ends.append(e) if isinstance(e, EpochEnd) else None).run()
    return ends[0].seconds  # training time of the epoch (validation and health probe excluded)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    base = build_config({"epochs": 1, "device": args.device}, base=resolve_preset("dropout").config)
    device = pick_device(base.device)
    configure_device(device, False)
    data = load_dataset("mnist", mnist_dir(args.data_dir), val_split=base.val_split, seed=0, device=device)
    on, off = dataclasses.replace(base, health=True), dataclasses.replace(base, health=False)
    epoch_seconds(on, data, device)  # warm-up
    times: dict[str, list[float]] = {"on": [], "off": []}
    for _ in range(args.rounds):
        times["off"].append(epoch_seconds(off, data, device))
        times["on"].append(epoch_seconds(on, data, device))
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["on"] / med["off"]
    report(
        "Layer health statistics: cost per epoch (benchmarks/health.py)",
        [
            f"dropout preset, one epoch, {args.rounds} rounds alternating, device {device}",
            f"health off: {med['off']:.2f} s per epoch (median of {', '.join(f'{t:.2f}' for t in times['off'])})",
            f"health on: {med['on']:.2f} s per epoch (median of {', '.join(f'{t:.2f}' for t in times['on'])})",
            f"on / off: **{ratio:.3f}x** (target <= 1.05x)",
        ],
    )


if __name__ == "__main__":
    main()
