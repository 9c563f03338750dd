"""Training speed inside the app vs headless, and key-press latency during training.

Both runs happen in this process, one after the other, on the same data and config, so the
ratio compares like with like. Goals (issue 3): app >= 90 % of headless throughput; a key press
shows its effect within 100 ms.

    python benchmarks/tui_vs_headless.py [--epochs 3] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import time
from pathlib import Path

from common import mnist_dir, report
from textual import events

from mlp_tui.core.events import EpochEnd
from mlp_tui.core.presets import resolve_preset
from mlp_tui.engine.trainer import Trainer
from mlp_tui.runs.launch import prepare


def headless_rate(config, data_dir) -> float:
    prepared = prepare(config, data_dir)
    rates = []
    Trainer(config, prepared.data, prepared.device, emit=lambda e: rates.append(e.samples_per_s)
            if isinstance(e, EpochEnd) else None).run()  # fmt: skip
    return statistics.median(rates)


def app_rate_and_latency(config, data_dir, runs: Path) -> tuple[list[float], list[float]]:
    from textual.widgets import Static

    from mlp_tui.views.tui.app import create_app
    from mlp_tui.views.tui.screens.training import TrainingScreen

    async def scenario():
        app = create_app("dropout", config, autostart=True, data_dir=data_dir, runs_root=runs)
        latencies = []
        async with app.run_test(size=(120, 40)) as pilot:
            while not isinstance(app.screen, TrainingScreen) or app.screen.run.status != "running":
                await pilot.pause(0.05)
            screen = app.screen
            # Key presses during the second epoch: time from the key to the status line showing it.
            while screen.run.epoch < 1:
                await pilot.pause(0.05)
            status = screen.query_one("#status", Static)
            driver = app._driver
            assert driver is not None, "a running app has a driver"
            for _ in range(6):
                # Send the key as the terminal driver would (Pilot.press waits for the whole
                # process to go idle, which never happens while training), then time until the
                # status line has been re-rendered with the new state.
                before = status.content
                start = time.perf_counter()
                key = events.Key("space", " ")
                key.set_sender(app)
                driver.send_message(key)
                while status.content == before or status._repaint_required:
                    await asyncio.sleep(0.001)
                latencies.append(time.perf_counter() - start)
                await asyncio.sleep(0.3)
            while screen.result is None:
                await pilot.pause(0.1)
            return screen.run.epoch_rates, latencies

    return asyncio.run(scenario())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=3, help="headless/app runs, alternated")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--runs", default="/tmp/mlp-tui-bench-runs")
    args = parser.parse_args()
    data_dir = mnist_dir(args.data_dir)
    config = dataclasses.replace(resolve_preset("dropout").config, epochs=args.epochs)

    # This machine's speed drifts by tens of percent from minute to minute, so the two are
    # alternated and each app run is compared with the headless run just before it.
    ratios, all_latencies, pairs = [], [], []
    for _ in range(args.pairs):
        base = headless_rate(config, data_dir)
        rates, latencies = app_rate_and_latency(config, data_dir, Path(args.runs))
        app = statistics.median(rates)
        ratios.append(app / base)
        all_latencies += latencies
        pairs.append(f"{base:,.0f}/{app:,.0f}")
    ratio = statistics.median(ratios)
    lines = [
        f"training speed in the app / headless engine: median ratio {ratio:.2f} over {args.pairs} alternated "
        f"pairs (img/s headless/app: {', '.join(pairs)}) (goal >= 0.90)",
        f"key press to re-rendered status line during training: median "
        f"{statistics.median(all_latencies) * 1000:.0f} ms, worst {max(all_latencies) * 1000:.0f} ms (goal <= 100 ms)",
    ]
    report(f"TUI vs headless (dropout preset, {args.epochs} epochs a run)", lines)


if __name__ == "__main__":
    main()
