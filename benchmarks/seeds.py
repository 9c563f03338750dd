"""The textbooks' own experiments, run with their own settings over 3 seeds, beside the figure
each source reports. Writes benchmarks/SEEDS.md (the table; the notes below it are kept).

    python benchmarks/seeds.py [--seeds 3] [--only NAME[,NAME]] [--epochs-scale 1.0]

Each experiment is `mlp-tui run --headless` with the options below (the `tiny` preset as the
base, every setting that matters given), so each line can be rerun by hand.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from dataclasses import dataclass

from common import HERE, headless_run, machine, mnist_dir


@dataclass(frozen=True)
class Experiment:
    name: str
    source: str
    reported: float | None  # the source's test accuracy, %
    args: tuple[str, ...]

    def options(self, epochs_scale: float) -> list[str]:
        args = list(self.args)
        if epochs_scale != 1.0:
            i = args.index("--epochs")
            args[i + 1] = str(max(1, round(int(args[i + 1]) * epochs_scale)))
        return args


COMMON = ("--augment", "0", "--elastic", "0", "--schedule", "none", "--weight-decay", "0", "--patience", "0")
EXPERIMENTS = [
    Experiment("blog-keras", "blog: Keras 784-784-16-10, Adam, batch 32, 5 epochs, inputs in [0,1], "
               "validation = 20 % of the test set", 97.975,
               ("--hidden", "784,16", "--activation", "relu", "--loss", "cross-entropy", "--optimizer", "adam",
                "--lr", "0.001", "--batch-size", "32", "--epochs", "5", "--normalize", "unit", "--val-from", "test",
                "--val-split", "0.2", *COMMON)),
    Experiment("blog-pytorch", "blog: PyTorch 784-16-10, batch 20, inputs in [0,1] (SGD 0.01 for 5 epochs assumed)",
               94.24,
               ("--hidden", "16", "--activation", "relu", "--loss", "cross-entropy", "--optimizer", "sgd",
                "--lr", "0.01", "--batch-size", "20", "--epochs", "5", "--normalize", "unit", *COMMON)),
    Experiment("dropout-notebook", "dropout notebook: 784-512-512-10, SGD 0.01, batch 20, dropout 0.2, 20 % "
               "validation, inputs in [0,1], best by validation loss, 50 epochs", 97.64,
               ("--hidden", "512,512", "--activation", "relu", "--dropout", "0.2", "--loss", "cross-entropy",
                "--optimizer", "sgd", "--lr", "0.01", "--batch-size", "20", "--epochs", "50", "--val-split", "0.2",
                "--normalize", "unit", "--monitor", "val-loss", *COMMON)),
    Experiment("udacity", "Udacity's notes: 784-128-64-10, SGD 0.003, batch 64, 5 epochs, Normalize(0.5, 0.5), NLL",
               None,
               ("--hidden", "128,64", "--activation", "relu", "--loss", "nll", "--optimizer", "sgd", "--lr", "0.003",
                "--batch-size", "64", "--epochs", "5", "--normalize", "half", *COMMON)),
    Experiment("lab-perceptron-bias", "lab: a perceptron layer 784-10 with bias, SGD 0.1, batch 64, 5 epochs, "
               "test set as validation", None,
               ("--hidden", "", "--loss", "cross-entropy", "--optimizer", "sgd", "--lr", "0.1", "--batch-size", "64",
                "--epochs", "5", "--normalize", "unit", "--val-from", "test", "--val-split", "0.5", *COMMON)),
    Experiment("lab-perceptron-no-bias", "lab: the same perceptron layer without bias", None,
               ("--hidden", "", "--loss", "cross-entropy", "--optimizer", "sgd", "--lr", "0.1", "--batch-size", "64",
                "--epochs", "5", "--normalize", "unit", "--no-bias", "--val-from", "test", "--val-split", "0.5",
                *COMMON)),
]  # fmt: skip

SEEDS_MD = HERE / "SEEDS.md"
NOTES = "## Notes"


def run(experiment: Experiment, seeds: int, epochs_scale: float, data_dir) -> list[float]:
    results = []
    for seed in range(seeds):
        accuracy, _, seconds, _ = headless_run(
            "tiny", data_dir, [*experiment.options(epochs_scale), "--seed", str(seed)]
        )
        print(f"  {experiment.name} seed {seed}: {accuracy:.2f} % in {seconds:.0f} s", flush=True)
        results.append(accuracy)
    return results


def row(experiment: Experiment, results: list[float], epochs_scale: float) -> str:
    mean, sd = statistics.mean(results), statistics.stdev(results) if len(results) > 1 else 0.0
    ours = f"{mean:.2f} ± {sd:.2f} % ({', '.join(f'{r:.2f}' for r in results)})"
    if experiment.reported is None:
        verdict = "no figure reported"
    else:
        gap = mean - experiment.reported
        within = abs(gap) <= max(2 * sd, 0.1)
        verdict = f"{gap:+.2f} points: " + ("within noise" if within else "more than noise (see notes)")
    command = "mlp-tui run --preset tiny --headless " + " ".join(
        a if a else '""' for a in experiment.options(epochs_scale)
    )
    reported = f"{experiment.reported:g} %" if experiment.reported is not None else "-"
    return f"| {experiment.name} | {experiment.source} | {reported} | {ours} | {verdict} | `{command}` |"


def write(rows: list[str], seeds: int) -> None:
    old = SEEDS_MD.read_text(encoding="utf-8") if SEEDS_MD.exists() else ""
    notes = old[old.index(NOTES) :] if NOTES in old else f"{NOTES}\n\n(none yet)\n"
    head = [
        "# The textbooks' experiments, reproduced (benchmarks/seeds.py)", "",
        f"{time.strftime('%Y-%m-%d %H:%M')} · {machine()} · {seeds} seeds (0..{seeds - 1}), "
        "test accuracy as mean ± sd", "",
        "| experiment | source and settings | source reports | mlp-tui, mean ± sd (per seed) | difference "
        "| command (add --seed N) |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    SEEDS_MD.write_text("\n".join(head + rows) + "\n\n" + notes, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", default="")
    parser.add_argument(
        "--epochs-scale", type=float, default=1.0, help="shorter runs for a quick look (not for the table)"
    )
    args = parser.parse_args()
    chosen = [e for e in EXPERIMENTS if not args.only or e.name in re.split(r"[, ]+", args.only)]
    rows = []
    for experiment in chosen:
        print(f"{experiment.name}: {experiment.source}", flush=True)
        rows.append(
            row(experiment, run(experiment, args.seeds, args.epochs_scale, mnist_dir(args.data_dir)), args.epochs_scale)
        )
    write(rows, args.seeds)
    print(f"wrote {SEEDS_MD}")


if __name__ == "__main__":
    main()
