"""The accuracy presets on the real data: test accuracy, wall time and peak memory of a headless run.

Goals (issue 5): `dropout` >= 98.5 % test accuracy; `best` (a pure MLP with on-device
distortions) >= 99.4 % within 15 minutes on a 2-core CPU. Each preset's TOML states what to
expect; this prints it next to what was measured.

    python benchmarks/accuracy.py [--data-dir DIR] [--preset dropout --preset best]
"""

from __future__ import annotations

import argparse

from common import headless_run, mnist_dir, report

from mlp_tui.config import resolve_preset

GOALS = {"dropout": (98.5, None), "best": (99.4, 15 * 60)}  # (test accuracy %, seconds or None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--preset", action="append", choices=sorted(GOALS), help="default: all of them")
    args = parser.parse_args()
    data_dir = mnist_dir(args.data_dir)
    for name in args.preset or list(GOALS):
        preset = resolve_preset(name)
        accuracy, best, seconds, peak = headless_run(name, data_dir)
        goal_acc, goal_s = GOALS[name]
        met = accuracy >= goal_acc and (goal_s is None or seconds <= goal_s)
        goal = f">= {goal_acc} %" + (f" within {goal_s / 60:.0f} min" if goal_s else "")
        line = (
            f"`mlp-tui run --preset {name} --headless` ({preset.config.architecture}, {preset.config.epochs} epochs): "
            f"test accuracy {accuracy:.2f} % (best epoch {best}) in {seconds:.0f} s wall, peak RSS {peak:.0f} MB; "
            f"goal {goal}: {'met' if met else 'NOT met'}; the preset says: {preset.expected}"
        )
        report(f"Accuracy preset `{name}`", [line])


if __name__ == "__main__":
    main()
