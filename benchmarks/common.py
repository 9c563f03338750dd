"""Shared by the benchmark scripts: where the data is, what machine this is, the results file."""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
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


def append_result(title: str, lines: list[str]) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M")
    block = [f"## {title}", "", f"{stamp} · {machine()}", ""] + [f"- {line}" for line in lines] + [""]
    with open(RESULTS, "a", encoding="utf-8") as f:
        f.write("\n".join(block) + "\n")
