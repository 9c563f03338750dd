"""Shared by the benchmark scripts: where the data is, what machine this is, the results file."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
# $MLP_TUI_RESULTS: another file to append to (gpu_check.sh's dry run keeps RESULTS.md as it is).
RESULTS = Path(os.environ.get("MLP_TUI_RESULTS") or HERE / "RESULTS.md")
sys.path.insert(0, str(HERE.parent))


def mnist_dir(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get("MLP_TUI_DATA"):
        return Path(os.environ["MLP_TUI_DATA"])
    return HERE.parent.parent / "shared" / "datasets"


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{cpu}, {os.cpu_count()} cores{gpu}, torch {torch.__version__}, Python {platform.python_version()}"


def report(title: str, lines: list[str], bullets: bool = True) -> None:
    """Print the figures and append them, stamped with time and machine, to RESULTS.md (as a
    list, or as they are: a table, say)."""
    for line in lines:
        print(line)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    block = [f"## {title}", "", f"{stamp} · {machine()}", ""] + [f"- {line}" if bullets else line for line in lines]
    block.append("")
    with open(RESULTS, "a", encoding="utf-8") as f:
        f.write("\n".join(block) + "\n")


def headless_run(preset: str, data_dir: Path, args: Sequence[str] = ()) -> tuple[float, int | None, float, float]:
    """(test accuracy %, best epoch, wall seconds, peak RSS MB) of `mlp-tui run --preset P --headless ARGS`."""
    env = dict(os.environ, MLP_TUI_DATA=str(data_dir))
    with tempfile.TemporaryDirectory() as runs, tempfile.TemporaryFile("w+") as log:
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "mlp_tui", "run", "--preset", preset, "--headless", "--runs", runs, *args],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak memory
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        out = log.read()
    if child.returncode != 0:
        raise SystemExit(f"{preset}: exit {child.returncode}\n{out[-2000:]}")
    found = re.search(r"test accuracy ([\d.]+) %", out)
    if found is None:
        raise SystemExit(f"{preset}: no test accuracy in its report\n{out[-2000:]}")
    accuracy = float(found.group(1))
    best = re.search(r"best epoch (\d+)", out)
    return accuracy, int(best.group(1)) if best else None, seconds, usage.ru_maxrss / 1024
