"""Command start-up time (no torch import on the light paths) and peak memory of a real run.

- `mlp-tui --help` and `mlp-tui presets` wall time (goal <= 0.3 s), next to `python -c pass`;
- wall time of `mlp-tui run --preset dropout --headless` from start to its final test accuracy
  (goal: >= 98 % within 20 s on a 2-core CPU, imports and data loading included);
- peak resident memory of that run (goal <= 800 MB).

    python benchmarks/startup_and_memory.py [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from common import headless_run, mnist_dir, report


def wall(cmd: list[str], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "mlp_tui"]
    python = wall([sys.executable, "-c", "pass"])
    help_s = wall([*cli, "--help"])
    presets_s = wall([*cli, "presets"])

    accuracy, _, seconds, peak_mb = headless_run("dropout", mnist_dir(args.data_dir))
    lines = [
        f"`mlp-tui --help` {help_s:.2f} s, `mlp-tui presets` {presets_s:.2f} s "
        f"(bare `python -c pass` {python:.2f} s) (goal <= 0.3 s)",
        f"`mlp-tui run --preset dropout --headless`: test accuracy {accuracy:.2f} % after {seconds:.1f} s, "
        "imports and data loading included (goal >= 98 % within 20 s)",
        f"peak resident memory of that run {peak_mb:.0f} MB (goal <= 800 MB)",
    ]
    report("Start-up, time to accuracy and memory", lines)


if __name__ == "__main__":
    main()
