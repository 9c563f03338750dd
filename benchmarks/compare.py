"""A comparison on the pool against the same members run one after another, in one process.

    python benchmarks/compare.py                      # CPU: tiny preset, 2 losses × 2 seeds
    python benchmarks/compare.py --gpu                # GPU: 6 members of the dropout preset vs one

The baseline is what a user would otherwise do: `mlp-tui run --preset MEMBER/config.toml
--headless` for each member, one after another (each its own process, all cores to itself).
The comparison is `drive()` on the default pool. Targets (issue 12): on a 2-core CPU the
comparison takes at most 1.1x the sum of the solo runs; on a GPU, 6 dropout members finish in
under 2x the time of one.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import headless_run, mnist_dir, report

from mlp_tui.core.presets import resolve_preset, to_toml
from mlp_tui.runs.compare.backends.pool import default_jobs
from mlp_tui.runs.compare.driver import drive
from mlp_tui.runs.compare.grid import build_grid, parse_axis
from mlp_tui.runs.compare.plan import Plan, new_comparison


def solo_seconds(plan: Plan, data_dir: Path, members: int) -> list[float]:
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, member in enumerate(plan.members(Path(tmp))[:members]):
            path = Path(tmp) / f"member{i}.toml"
            path.write_text(to_toml(member.config))
            _, _, seconds, _ = headless_run(str(path), data_dir)
            times.append(seconds)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir")
    parser.add_argument("--gpu", action="store_true", help="6 members of the dropout preset on the GPU")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--device", default="cuda", help="with --gpu; cpu: a dry run of the GPU comparison")
    parser.add_argument("--subset", type=int, default=0, help="train on this many images (dry runs)")
    args = parser.parse_args()
    data_dir = mnist_dir(args.data_dir)
    if args.gpu:
        preset, axes, seeds, common = "dropout", [parse_axis("loss=nll,cross-entropy,mse")], 2, {"device": args.device}
    else:
        preset, axes, seeds, common = "tiny", [parse_axis("loss=nll,cross-entropy")], 2, {}
    if args.epochs:
        common["epochs"] = args.epochs
    if args.subset:
        common["subset"] = args.subset
    chosen = resolve_preset(preset)
    plan = Plan(build_grid([(preset, chosen.config)], axes, common), seeds, [a.text for a in axes])
    members = plan.size
    jobs = default_jobs(common.get("device", "cpu"), members)

    # The baseline: every member alone, one after another (on a GPU: one member, the target is 2x it).
    solo = solo_seconds(plan, data_dir, 1 if args.gpu else members)
    with tempfile.TemporaryDirectory() as runs:
        folder = new_comparison(plan, Path(runs))
        start = time.perf_counter()
        board = drive(folder, plan, data_dir=data_dir)
        together = time.perf_counter() - start
    assert board.finished == members, f"only {board.finished} of {members} members finished"
    if args.gpu:
        ratio, target = together / solo[0], 2.0
        lines = [f"{members} members of {preset} ({', '.join(v.name for v in plan.variants)} × {seeds} seeds) on "
                 f"{jobs} workers sharing the GPU: {together:.1f} s; one member alone: {solo[0]:.1f} s",
                 f"comparison / one run: **{ratio:.2f}x** (target < {target}x)"]  # fmt: skip
    else:
        ratio, target = together / sum(solo), 1.1
        lines = [f"{members} members of {preset} ({', '.join(v.name for v in plan.variants)} × {seeds} seeds), "
                 f"{chosen.config.epochs if 'epochs' not in common else common['epochs']} epochs each",
                 f"one after another (`mlp-tui run` each): {' + '.join(f'{s:.1f}' for s in solo)} = {sum(solo):.1f} s",
                 f"as a comparison on {jobs} workers: {together:.1f} s",
                 f"comparison / sum of solo runs: **{ratio:.2f}x** (target <= {target}x)"]  # fmt: skip
    report("Comparison on the pool vs the same runs one after another (benchmarks/compare.py)", lines)


if __name__ == "__main__":
    main()
