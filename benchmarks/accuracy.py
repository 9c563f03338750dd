"""The accuracy presets on the real data: test accuracy, wall time and peak memory of a headless run.

Goals (issue 5): `dropout` >= 98.5 % test accuracy; `best` (a pure MLP with on-device
distortions) >= 99.4 % within 15 minutes on a 2-core CPU. Each preset's TOML states what to
expect; this prints it next to what was measured.

    python benchmarks/accuracy.py [--data-dir DIR] [--preset dropout --preset best]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

from common import append_result, mnist_dir

from mlp_tui.config import resolve_preset

GOALS = {"dropout": (98.5, None), "best": (99.4, 15 * 60)}  # (test accuracy %, seconds or None)


def run(preset: str, data_dir) -> tuple[float, int | None, float, float]:
    """(test accuracy %, best epoch, wall seconds, peak RSS MB) of `mlp-tui run --preset P --headless`."""
    env = dict(os.environ, MLP_TUI_DATA=str(data_dir))
    with tempfile.TemporaryDirectory() as runs, tempfile.TemporaryFile("w+") as log:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "mlp_tui", "run", "--preset", preset, "--headless", "--runs", runs],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        out = log.read()
    if child.returncode != 0:
        raise SystemExit(f"{preset}: exit {child.returncode}\n{out[-2000:]}")
    accuracy = float(re.search(r"test accuracy ([\d.]+) %", out).group(1))
    best = re.search(r"best epoch (\d+)", out)
    return accuracy, int(best.group(1)) if best else None, seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--preset", action="append", choices=sorted(GOALS), help="default: all of them")
    args = parser.parse_args()
    data_dir = mnist_dir(args.data_dir)
    for name in args.preset or list(GOALS):
        preset = resolve_preset(name)
        accuracy, best, seconds, peak = run(name, data_dir)
        goal_acc, goal_s = GOALS[name]
        met = accuracy >= goal_acc and (goal_s is None or seconds <= goal_s)
        goal = f">= {goal_acc} %" + (f" within {goal_s / 60:.0f} min" if goal_s else "")
        line = (
            f"`mlp-tui run --preset {name} --headless` ({preset.config.architecture}, {preset.config.epochs} epochs): "
            f"test accuracy {accuracy:.2f} % (best epoch {best}) in {seconds:.0f} s wall, peak RSS {peak:.0f} MB; "
            f"goal {goal}: {'met' if met else 'NOT met'}; the preset says: {preset.expected}"
        )
        print(line)
        append_result(f"Accuracy preset `{name}`", [line])


if __name__ == "__main__":
    main()
