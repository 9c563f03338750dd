"""Epoch throughput of mlp-tui's training loop vs the tutorial pipeline, and FLOP/s vs a matmul.

All in one process, on the same architecture (784-512-512-10, dropout 0.2):
- tutorial: torchvision MNIST with ToTensor()+Normalize per sample, DataLoader(batch 20),
  SGD lr 0.01 (the pipeline the `dropout` preset comes from);
- mlp-tui: the engine's loop with the `dropout` preset (data on the device, index slices), its
  distortions (`augment`) off so both do the same work; the rate with them on is printed too.
Goals (issue 5): ratio >= 4x (never below 3x); achieved FLOP/s >= 75 % of a large matmul's, counting
6 FLOPs per parameter per image as the issue does (the first layer's input gradient, which nobody
computes, is in that count; the figure without it is printed too).

    python benchmarks/throughput.py [--data-dir DIR] [--epochs 2]
    python benchmarks/throughput.py --gpu    # eager vs captured step on CUDA (throughput_gpu.py)
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
from common import mnist_dir, report
from torch import nn

from mlp_tui.core.events import EpochEnd
from mlp_tui.core.presets import resolve_preset
from mlp_tui.engine.model import build_model, count_parameters
from mlp_tui.engine.trainer import Trainer
from mlp_tui.runs.launch import prepare


def tutorial_rate(data_dir, max_batches: int) -> float:
    """Images/s of the classic DataLoader pipeline (timed over `max_batches` batches of 20)."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train = datasets.MNIST(str(data_dir), train=True, download=False, transform=transform)
    loader = DataLoader(train, batch_size=20, shuffle=True)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 10),
    )  # fmt: skip
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    seen, start = 0, time.perf_counter()
    for i, (x, y) in enumerate(loader):
        if i == max_batches:
            break
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        seen += len(x)
    return seen / (time.perf_counter() - start)


def product_rate(data_dir, epochs: int, augment: bool = False) -> tuple[float, int]:
    preset = resolve_preset("dropout").config
    config = dataclasses.replace(preset, epochs=epochs, augment=preset.augment if augment else 0.0)
    prepared = prepare(config, data_dir)
    rates = []
    emit = lambda e: rates.append(e.samples_per_s) if isinstance(e, EpochEnd) else None  # noqa: E731
    Trainer(config, prepared.data, prepared.device, emit=emit).run()
    return max(rates), count_parameters(build_model(config))


def matmul_flops(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=None, help="default: 2 (CPU), 4 (--gpu: 3 timed)")
    parser.add_argument("--tutorial-batches", type=int, default=1500, help="30,000 images at batch 20")
    gpu = parser.add_argument_group("--gpu", "the eager and the captured step on a GPU (throughput_gpu.py)")
    gpu.add_argument("--gpu", action="store_true")
    gpu.add_argument("--device", default="cuda", help="cpu: a dry run of --gpu's code on this machine")
    gpu.add_argument("--subset", type=int, default=0, help="train on this many images (dry runs)")
    gpu.add_argument("--peak-size", type=int, default=8192, help="side of the matmul that measures the peak")
    gpu.add_argument("--run-args", default="", help="added to the 5-epoch `mlp-tui run` (dry runs: '--epochs 1')")
    args = parser.parse_args()
    data_dir = mnist_dir(args.data_dir)
    if args.gpu:
        from throughput_gpu import main_gpu

        main_gpu(data_dir, args.device, args.epochs or 4, args.subset, args.peak_size, args.run_args.split())
        return
    args.epochs = args.epochs or 2

    peak = statistics.median(matmul_flops() for _ in range(3))
    tutorial = tutorial_rate(data_dir, args.tutorial_batches)
    ours, params = product_rate(data_dir, args.epochs)
    peak = (peak + statistics.median(matmul_flops() for _ in range(3))) / 2  # before and after: drift
    distorted, _ = product_rate(data_dir, 1, augment=True)
    achieved = 6 * params * ours  # forward + backward: about 6 FLOPs per parameter per image
    computed = achieved - 2 * 784 * 512 * ours  # less the first layer's input gradient
    lines = [
        f"tutorial pipeline {tutorial:,.0f} img/s ({60000 / tutorial:.1f} s/epoch); mlp-tui {ours:,.0f} img/s "
        f"({60000 / ours:.1f} s/epoch): ratio {ours / tutorial:.1f}x (goal >= 4x, never below 3x)",
        f"training at {achieved / 1e9:.0f} GFLOP/s (6 per parameter per image) vs a 2048^2 fp32 matmul at "
        f"{peak / 1e9:.0f} GFLOP/s: {achieved / peak:.0%} (goal >= 75 %); FLOPs actually computed: "
        f"{computed / 1e9:.0f} GFLOP/s, {computed / peak:.0%}",
        f"the `dropout` preset as shipped, with its distortions on: {distorted:,.0f} img/s "
        f"({distorted / tutorial:.1f}x the tutorial)",
    ]
    report("Throughput vs the tutorial pipeline (784-512-512-10, dropout 0.2)", lines)


if __name__ == "__main__":
    main()
