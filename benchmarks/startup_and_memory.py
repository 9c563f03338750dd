"""Command start-up time (no torch import on the light paths) and peak memory of a real run.

- `mlp-tui --help` and `mlp-tui presets` wall time (goal <= 0.3 s), next to `python -c pass`;
- wall time of `mlp-tui run --preset dropout --headless` from start to its final test accuracy
  (goal: >= 98 % within 20 s on a 2-core CPU, imports and data loading included);
- peak resident memory of that run (goal <= 800 MB).

    python benchmarks/startup_and_memory.py [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from common import append_result, mnist_dir


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
    help_s = wall(cli + ["--help"])
    presets_s = wall(cli + ["presets"])

    env = dict(os.environ, MLP_TUI_DATA=str(mnist_dir(args.data_dir)))
    with tempfile.TemporaryDirectory() as runs:
        start = time.perf_counter()
        out = subprocess.run(cli + ["run", "--preset", "dropout", "--headless", "--runs", runs],
                             capture_output=True, text=True, env=env, check=True).stdout  # fmt: skip
        seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: KiB
    accuracy = float(re.search(r"test accuracy ([\d.]+) %", out).group(1))
    lines = [
        f"`mlp-tui --help` {help_s:.2f} s, `mlp-tui presets` {presets_s:.2f} s "
        f"(bare `python -c pass` {python:.2f} s) (goal <= 0.3 s)",
        f"`mlp-tui run --preset dropout --headless`: test accuracy {accuracy:.2f} % after {seconds:.1f} s, "
        "imports and data loading included (goal >= 98 % within 20 s)",
        f"peak resident memory of that run {peak_mb:.0f} MB (goal <= 800 MB)",
    ]
    for line in lines:
        print(line)
    append_result("Start-up, time to accuracy and memory", lines)


if __name__ == "__main__":
    main()
