"""The presets on real data, over several seeds: test accuracy as mean ± sd, wall time, memory.

Each preset runs as a user runs it (`mlp-tui run --preset NAME --headless --seed S --dataset D`,
a fresh process, start-up and data loading included) once per seed. The table goes to
RESULTS.md; with --update-presets the figures also become each preset's
`expected.<dataset>`, which `mlp-tui presets --dataset D`, the app's setup screen, the run
headers and the README show. Goals, judged on the mean: `dropout` >= 98.5 % on MNIST and >= 89 %
on Fashion-MNIST; `best` >= 99.4 % on MNIST within 15 minutes on a 2-core CPU.

    python benchmarks/accuracy.py [--seeds 3] [--preset tiny --preset dropout] [--dataset fashion-mnist]
                                  [--update-presets]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
from pathlib import Path

from common import headless_run, mnist_dir, report

from mlp_tui.core.datasets import DATASET_NAMES
from mlp_tui.core.presets import builtin_preset_dir, list_presets, load_preset_file

# (preset, dataset): (test accuracy %, seconds or None)
GOALS = {
    ("dropout", "mnist"): (98.5, None),
    ("dropout", "fashion-mnist"): (89.0, None),
    ("best", "mnist"): (99.4, 15 * 60),
}


def hardware() -> str:
    import torch

    if torch.cuda.is_available():
        return f"an {torch.cuda.get_device_name()}"
    return f"{os.cpu_count()} CPU cores"


def update_preset(path: Path, dataset: str, mean: float, sd: float, seeds: int, seconds: float) -> None:
    """Write the figures into the preset's `expected.<dataset> = {...}` line (the rest of the file
    stays; an older one-dataset `expected = {...}` line becomes `expected.mnist`)."""
    line = (f"expected.{dataset} = {{ accuracy = {mean:.2f}, sd = {sd:.2f}, seeds = {seeds}, "
            f'seconds = {seconds:.0f}, hardware = "{hardware()}" }}')  # fmt: skip
    text = re.sub(r"^expected = \{", "expected.mnist = {", path.read_text(), count=1, flags=re.M)
    text, n = re.subn(rf"^expected\.{re.escape(dataset)} = .*$", line, text, count=1, flags=re.M)
    if not n:  # after the other datasets' figures, else after the source line
        last = list(re.finditer(r"^(expected\.[\w-]+ = .*|source = .*)$", text, flags=re.M))[-1]
        text = text[: last.end()] + "\n" + line + text[last.end() :]
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--preset", action="append", help="default: every built-in preset")
    parser.add_argument("--seeds", type=int, default=3, help="runs per preset, seeds 0..N-1 (at least 3)")
    parser.add_argument("--dataset", default="mnist", choices=DATASET_NAMES)
    parser.add_argument("--update-presets", action="store_true", help="write the figures into the presets")
    args = parser.parse_args()
    if args.seeds < 3:
        parser.error("--seeds: a figure needs at least 3 seeds")
    data_dir = mnist_dir(args.data_dir)
    # The built-in files themselves, by path: a user's preset of the same name is not measured.
    names = args.preset or [p.name for p in list_presets() if p.path.parent == builtin_preset_dir()]
    rows = ["| preset | model, epochs | test accuracy, mean ± sd | per seed | wall time per run | peak RSS | goal |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name in names:
        path = builtin_preset_dir() / f"{name}.toml"
        config = load_preset_file(path).config
        runs = [headless_run(str(path), data_dir, ["--seed", str(seed), "--dataset", args.dataset])
                for seed in range(args.seeds)]  # fmt: skip
        accuracies = [r[0] for r in runs]
        mean, sd = statistics.mean(accuracies), statistics.stdev(accuracies)
        seconds = statistics.mean(r[2] for r in runs)
        goal = ""
        if (name, args.dataset) in GOALS:
            goal_acc, goal_s = GOALS[name, args.dataset]
            met = mean >= goal_acc and (goal_s is None or max(r[2] for r in runs) <= goal_s)
            goal = (
                f">= {goal_acc} %"
                + (f" in {goal_s / 60:.0f} min" if goal_s else "")
                + (": met" if met else ": NOT met")
            )
        rows.append(
            f"| `{name}` | {config.architecture}, {config.epochs} | **{mean:.2f} ± {sd:.2f} %** ({args.seeds} seeds) | "
            f"{', '.join(f'{a:.2f}' for a in accuracies)} | {seconds:.0f} s "
            f"({min(r[2] for r in runs):.0f}-{max(r[2] for r in runs):.0f}) | "
            f"{max(r[3] for r in runs):.0f} MB | {goal} |"
        )
        print(rows[-1], flush=True)
        if args.update_presets:
            update_preset(path, args.dataset, mean, sd, args.seeds, seconds)
    command = f"`mlp-tui run --preset NAME --headless --seed S --dataset {args.dataset}`"
    report(f"Preset accuracy on {args.dataset} over {args.seeds} seeds ({command})", rows, bullets=False)


if __name__ == "__main__":
    main()
