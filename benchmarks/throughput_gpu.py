"""`throughput.py --gpu`: the `dropout` preset's epoch on a GPU, eager step against captured step.

In one process, on the same data: ms per epoch at batch 256 and 1024 for `Trainer(capture=False)`
and `Trainer(capture=True)` (the median of the epochs after the first, which holds the capture),
what each run's header said (`RunStarted.step`), the FLOP/s that makes against a matmul measured
on the device (fp32 with TF32 allowed, as training runs), and the wall time of a whole 5-epoch
`mlp-tui run` from process start against `import torch` alone. Targets (issue 28, H100): batch
256 <= 20 ms, batch 1024 <= 10 ms per epoch, the 5-epoch run <= import + 2 s.
"""

from __future__ import annotations

import dataclasses
import gc
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from common import headless_run, report

from mlp_tui.core.config import RunConfig
from mlp_tui.core.events import EpochEnd, Event, RunFailed, RunStarted
from mlp_tui.core.presets import resolve_preset
from mlp_tui.engine.graph_step import CapturedStep
from mlp_tui.engine.model import build_model, count_parameters
from mlp_tui.engine.trainer import Trainer
from mlp_tui.runs.launch import Prepared, prepare

TARGET_MS = {256: 20.0, 1024: 10.0}  # captured, ms per epoch (issue 28's table)


@dataclass
class Timed:
    """One run's epochs: the median of those after the first, and the first (capture included)."""

    step: str | None
    ms: float
    first_ms: float
    replay_us: str = "-"  # the captured graph alone: GPU µs per replay / host µs per launch


def timed_run(config: RunConfig, prepared: Prepared, capture: bool) -> Timed:
    started: list[str | None] = []
    seconds: list[float] = []

    def emit(event: Event) -> None:
        if isinstance(event, RunStarted):
            started.append(getattr(event, "step", None))
        elif isinstance(event, EpochEnd):
            seconds.append(event.seconds)

    trainer = Trainer(config, prepared.data, prepared.device, emit=emit, capture=capture)
    end = trainer.run()
    if isinstance(end, RunFailed):
        raise SystemExit(f"batch {config.batch_size}, capture={capture}: {end.reason}: {end.message}")
    replay = replay_times(trainer)
    del trainer
    gc.collect()  # the trainer and its loop refer to each other: only the collector frees its graph
    if torch.cuda.is_available():
        torch.cuda.empty_cache()  # the next run's graphs and buffers start from the same free memory
    later = seconds[1:] or seconds
    return Timed(started[0] if started else None, 1000 * statistics.median(later), 1000 * seconds[0], replay)


def replay_times(trainer: Trainer) -> str:
    """The captured graph replayed on its own, over an epoch's full batches: how long the GPU
    takes per batch (CUDA events) and how long the host takes to launch it. The first bounds an
    epoch from below; the loop's own work per batch adds to the second."""
    step = trainer.step
    if not isinstance(step, CapturedStep) or step.graph is None:
        return "-"
    graph = step.graph
    replays = step.steps - 1  # the counter must stay inside the epoch's order
    step.batch.fill_(0)
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    begin.record()
    started = time.perf_counter()
    for _ in range(replays):
        graph.replay()
    launched = time.perf_counter() - started
    end.record()
    end.synchronize()
    return f"{1000 * begin.elapsed_time(end) / replays:.0f} / {1e6 * launched / replays:.0f}"


def matmul_peak(device: torch.device, n: int, repeats: int = 10) -> float:
    """FLOP/s of an n x n fp32 matmul on `device`, with whatever TF32 setting training set."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    if device.type != "cuda":
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        return 2 * n**3 * repeats / (time.perf_counter() - start)
    # Events on the stream: the time the GPU spent, not how fast Python queued the launches.
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    begin.record()
    for _ in range(repeats):
        a @ b
    end.record()
    end.synchronize()
    return 2 * n**3 * repeats / (begin.elapsed_time(end) / 1000)


def import_seconds(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def epoch_rows(base: RunConfig, prepared: Prepared, peak: float) -> list[str]:
    params = count_parameters(build_model(base))
    images = len(prepared.data.train_x)
    rows = ["| batch | eager ms/epoch | captured ms/epoch | speed-up | target | captured: TFLOP/s, of peak "
            "| first epoch eager / captured | step said (eager / captured) | one replay: GPU / launch µs |",
            "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for batch in (256, 1024):
        config = dataclasses.replace(base, batch_size=batch)
        eager, captured = timed_run(config, prepared, False), timed_run(config, prepared, True)
        flops = 6 * params * images / (captured.ms / 1000)  # 6 per parameter per image, as the CPU line
        rows.append(
            f"| {batch} | {eager.ms:.1f} | {captured.ms:.1f} | {eager.ms / captured.ms:.1f}x | <= {TARGET_MS[batch]:g}"
            f" | {flops / 1e12:.2f}, {flops / peak:.1%} | {eager.first_ms:.0f} / {captured.first_ms:.0f} ms"
            f" | {eager.step} / {captured.step} | {captured.replay_us} |"
        )
    return rows


def main_gpu(data_dir: Path, device: str, epochs: int, subset: int, peak_size: int, run_args: Sequence[str]) -> None:
    preset = resolve_preset("dropout").config  # as shipped: distortions on, as a user trains it
    base = dataclasses.replace(preset, epochs=epochs, device=device, subset=subset)
    prepared = prepare(base, data_dir)  # also sets TF32 on CUDA, so the peak below is what training gets
    peak = statistics.median(matmul_peak(prepared.device, peak_size) for _ in range(3))
    rows = epoch_rows(base, prepared, peak)
    compiled = timed_run(dataclasses.replace(base, batch_size=256, compile=True), prepared, True)
    bare = import_seconds("import torch")
    context = import_seconds(f"import torch; torch.zeros(1, device={device!r})")
    accuracy, _, wall, _ = headless_run("dropout", data_dir, ["--device", device, *run_args])
    lines = [
        *rows,
        "",
        f"- `dropout` preset as shipped, {len(prepared.data.train_x):,} training images, {epochs} epochs per "
        "run; ms/epoch is the median after the first epoch (EpochEnd.seconds: the batches, not validation)",
        f"- matmul peak: {peak_size}^2 fp32 with TF32 allowed (as training), timed by "
        f"{'CUDA events' if prepared.device.type == 'cuda' else 'the clock'}: {peak / 1e12:.2f} TFLOP/s",
        f"- `mlp-tui run --preset dropout --headless --device {' '.join([device, *run_args])}` (5 epochs as "
        f"shipped, the default step), process start to exit: {wall:.1f} s ({accuracy:.2f} %); `import torch` "
        f"alone {bare:.1f} s, with a {device} tensor {context:.1f} s: run - import = {wall - bare:.1f} s "
        "(target <= 2 s)",
        f"- `--compile` at batch 256 (issue 28 item 2: it stays only if faster than the captured step): "
        f"{compiled.ms:.1f} ms/epoch, first epoch {compiled.first_ms / 1000:.1f} s (step: {compiled.step})",
    ]
    title = f"GPU epochs: eager vs captured step ({prepared.device_label}, benchmarks/throughput.py --gpu)"
    report(title, lines, bullets=False)
