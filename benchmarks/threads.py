"""`--threads auto` against fixed 1 and all-core thread counts, on a quiet machine and on one kept
busy by CPU-bound processes this script starts (one fewer than the cores: on 2 cores, one).
Side by side in one process, the settings alternating in rounds, so each sees the same machine.

    python benchmarks/threads.py [--presets tiny,dropout] [--rounds 2] [--epochs 3] [--subset 12000]

Figure: training images per second over the epochs (validation excluded), median of the rounds.
Target (issue 21): auto within 15 % of the faster fixed count, quiet and busy, for both presets.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
from contextlib import contextmanager

from common import mnist_dir, report

from mlp_tui.core.config import build_config
from mlp_tui.core.events import EpochEnd, ThreadsChanged
from mlp_tui.core.presets import resolve_preset
from mlp_tui.engine.data import load_dataset
from mlp_tui.engine.model import pick_device
from mlp_tui.engine.threads import cpu_cores
from mlp_tui.engine.trainer import Trainer

SPIN = "while True: pass"


@contextmanager
def busy(processes: int):
    """CPU-bound processes beside the training: another user's job on the same cores."""
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(processes)]
    try:
        yield
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def images_per_second(config, data, device) -> tuple[float, int]:
    """Training throughput over the run's epochs, and how often auto changed the count."""
    ends, changes = [], []

    def emit(event) -> None:
        if isinstance(event, EpochEnd):
            ends.append(event)
        elif isinstance(event, ThreadsChanged):
            changes.append(event)

    Trainer(config, data, device, emit=emit).run()
    return len(data.train_x) * len(ends) / sum(e.seconds for e in ends), len(changes)


def measure(preset: str, settings: list[str], args, data_dir) -> dict[str, list[float]]:
    base = build_config({"epochs": args.epochs, "subset": args.subset, "device": "cpu", "health": False},
                        base=resolve_preset(preset).config)  # fmt: skip
    device = pick_device("cpu")
    data = load_dataset(base.dataset, data_dir, val_split=base.val_split, seed=0, device=device, subset=base.subset)
    rates: dict[str, list[float]] = {s: [] for s in settings}
    images_per_second(dataclasses.replace(base, epochs=1, threads="1"), data, device)  # warm-up
    for _ in range(args.rounds):
        for setting in settings:
            rate, _ = images_per_second(dataclasses.replace(base, threads=setting), data, device)
            rates[setting].append(rate)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir")
    parser.add_argument("--presets", default="tiny,dropout")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--subset", type=int, default=12000)
    args = parser.parse_args()
    cores = cpu_cores()
    settings = ["1", str(cores), "auto"] if cores > 1 else ["1", "auto"]
    lines = [f"{args.epochs} epochs of {args.subset:,} images per run, health off, {args.rounds} rounds "
             f"alternating {', '.join(settings)}; busy: {max(1, cores - 1)} CPU-bound process(es) beside it; "
             "median img/s"]  # fmt: skip
    worst = float("inf")
    for condition in ("quiet", "busy"):
        for preset in args.presets.split(","):
            if condition == "busy":
                with busy(max(1, cores - 1)):
                    rates = measure(preset, settings, args, mnist_dir(args.data_dir))
            else:
                rates = measure(preset, settings, args, mnist_dir(args.data_dir))
            med = {s: statistics.median(r) for s, r in rates.items()}
            best_fixed = max(v for s, v in med.items() if s != "auto")
            ratio = med["auto"] / best_fixed
            worst = min(worst, ratio)
            fixed = ", ".join(f"{s} thread{'s' if s != '1' else ''} {med[s]:,.0f}" for s in settings if s != "auto")
            lines.append(f"{preset}, {condition}: {fixed}; auto {med['auto']:,.0f} img/s = **{ratio:.2f}x** the faster "
                         f"fixed count")  # fmt: skip
    lines.append(f"worst auto / faster fixed: **{worst:.2f}x** (target >= 0.85x)")
    report("CPU threads: auto vs fixed counts, quiet and busy (benchmarks/threads.py)", lines)


if __name__ == "__main__":
    main()
