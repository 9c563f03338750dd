"""`mlp-tui compare`: the grid a user asks for, honest verdicts, and a comparison that is a
directory of ordinary runs which survives kill -9."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlp_tui.cli.main import app
from mlp_tui.core.config import SUGGESTED_LR, ConfigError, RunConfig, build_config
from mlp_tui.core.events import EpochEnd, Event, RunFinished, RunStarted
from mlp_tui.runs.compare.board import Board
from mlp_tui.runs.compare.grid import MAX_RUNS, build_grid, check_size, parse_axis
from mlp_tui.runs.compare.leaderboard import csv_text, markdown, table_lines, verdict_note
from mlp_tui.runs.compare.plan import Plan, new_comparison, read_plan
from mlp_tui.runs.compare.stats import t_two_sided_p, welch_p
from mlp_tui.runs.store import read_events

TIMEOUT_S = 240


# -- the grid -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "axis, words",
    [
        ("lss=nll,mse", ["--vary lss=nll,mse", "unknown setting 'lss'", "did you mean 'loss'"]),
        ("loss=nll,hinge", ["--vary loss=nll,hinge", "unknown value 'hinge'", "nll, cross-entropy, mse"]),
        ("loss=", ["--vary loss=", "empty"]),
        ("dropout=0.2,1.5", ["--vary dropout=0.2,1.5", "out of range"]),
        ("hidden=512/abc", ["--vary hidden=512/abc", "'abc' is not a list of integers"]),
        ("seed=1,2", ["--vary seed=1,2", "--seeds"]),
        ("loss", ["--vary loss", "KEY=VALUE"]),
    ],
)
def test_a_bad_axis_is_named_with_what_is_wrong(axis, words):
    with pytest.raises(ConfigError) as err:
        parse_axis(axis)
    for word in words:
        assert word in str(err.value)


def test_list_settings_take_slash_between_values():
    axis = parse_axis("hidden=512/512,512/512,512,512")
    assert axis.values == ((512,), (512, 512), (512, 512, 512))
    assert parse_axis("batch-norm=true,false").values == (True, False)


def test_every_combination_is_a_variant_named_by_what_differs_only():
    base = RunConfig(dropout=0.2)
    variants = build_grid(
        [("dropout", base)], [parse_axis("loss=nll,mse"), parse_axis("optimizer=sgd,adam")], {"epochs": 3}
    )
    assert [v.name for v in variants] == ["nll · sgd", "nll · adam", "mse · sgd", "mse · adam"]
    assert all(v.config.epochs == 3 and v.config.dropout == 0.2 for v in variants)
    # Optimizer and loss are axes: each trains at the rate suggested for its pair.
    assert variants[1].config.lr == SUGGESTED_LR["adam"] and variants[0].config.lr == SUGGESTED_LR["sgd"]
    assert variants[2].config.lr == 4 * SUGGESTED_LR["sgd"]  # SGD with MSE wants more
    assert all(v.config.lr_suggested for v in variants)


def test_a_given_or_varied_learning_rate_is_kept():
    base = RunConfig()
    given = build_grid([("p", base)], [parse_axis("optimizer=sgd,adam")], {"lr": 0.05})
    assert {v.config.lr for v in given} == {0.05}
    varied = build_grid([("p", base)], [parse_axis("optimizer=sgd,adam"), parse_axis("lr=0.01,0.1")], {})
    assert sorted({v.config.lr for v in varied}) == [0.01, 0.1]
    assert [v.name for v in varied][:2] == ["sgd · lr 0.01", "sgd · lr 0.1"]
    unrelated = build_grid([("p", RunConfig(lr=0.003))], [parse_axis("dropout=0,0.5")], {})
    assert {v.config.lr for v in unrelated} == {0.003}  # not an optimizer/loss axis: the preset's rate


def test_presets_can_be_compared_and_the_size_is_guarded():
    variants = build_grid([("tiny", RunConfig(hidden=(16,))), ("keras", RunConfig())], [], {})
    assert [v.name for v in variants] == ["tiny", "keras"]
    big = build_grid(
        [("p", RunConfig())], [parse_axis("optimizer=sgd,adam,adamw,rmsprop"), parse_axis("loss=nll,mse")], {}
    )
    with pytest.raises(ConfigError, match=f"more than {MAX_RUNS}; add --yes"):
        check_size(big, 9, yes=False)
    check_size(big, 9, yes=True)


# -- statistics and verdicts ---------------------------------------------------------------


def test_t_test_matches_the_tables():
    assert t_two_sided_p(2.228, 10) == pytest.approx(0.05, abs=2e-4)  # the 5 % point of t(10)
    assert t_two_sided_p(1.96, 1e7) == pytest.approx(0.05, abs=2e-4)  # the normal limit
    assert t_two_sided_p(12.706, 1) == pytest.approx(0.05, abs=2e-4)
    assert welch_p([1, 2, 3, 4], [3, 4, 5, 6]) == pytest.approx(0.0710, abs=1e-3)
    assert welch_p([0.9], [0.8, 0.7]) is None  # one seed has no spread


def write_member(path: Path, config: RunConfig, accuracy: float, epochs: int = 3, loss: float = 1.0) -> None:
    """A finished member's metrics.jsonl, as a run writes it (its losses `loss` / epoch)."""
    path.mkdir(parents=True)
    now = time.time()
    events: list[Event] = [RunStarted(config=config.to_dict(), preset="p", device="CPU", summary="", parameters=1,
                                      train_size=1, val_size=1, test_size=1, run_dir=str(path), start_epoch=0,
                                      time=now)]  # fmt: skip
    for e in range(1, epochs + 1):
        events.append(EpochEnd(epoch=e, epochs=epochs, train_loss=loss / e, train_accuracy=accuracy - 0.1 / e,
                               val_loss=1.2 / e, val_accuracy=accuracy - 0.05 / e, lr=0.1, seconds=1.5,
                               samples_per_s=1.0, is_best=True))  # fmt: skip
    events.append(RunFinished(status="completed", epochs_done=epochs, best_epoch=epochs, best_val_accuracy=accuracy,
                              test_loss=0.1, test_accuracy=accuracy, seconds=4.5))  # fmt: skip
    with open(path / "metrics.jsonl", "w") as f:
        for event in events:
            f.write(json.dumps(event.to_dict() | {"t": now}) + "\n")


def test_leaderboard_says_which_differences_are_noise(tmp_path):
    variants = build_grid([("p", RunConfig())], [parse_axis("optimizer=adam,sgd,adamw")], {})
    plan = Plan(variants, 3, ["optimizer=adam,sgd,adamw"])
    accuracies = {"adam": [0.970, 0.972, 0.968], "sgd": [0.951, 0.953, 0.950], "adamw": [0.971, 0.966, 0.969]}
    for member in plan.members(tmp_path):
        write_member(member.path, member.config, accuracies[member.variant.name][member.seed])
    board = Board(plan, tmp_path)
    board.update()
    rows = {r.name: r for r in board.rows()}
    assert next(r.name for r in board.rows()) == "adam"
    assert rows["adam"].verdict == "leader" and rows["adam"].accuracy_text() == "97.00 ± 0.20"
    assert rows["adamw"].verdict == "not distinguishable with 3 seeds"
    assert rows["sgd"].verdict.startswith("worse")
    summary = board.summary()
    assert "adam beats sgd by 1.9 ± 0.1 points" in summary  # paired by seed: 1.9, 1.9, 1.8
    assert "adam vs adamw: no difference at 3 seeds" in summary


def loss_board(root: Path, accuracies: dict, seeds: int = 2, losses: dict | None = None) -> Board:
    """tiny × loss=nll,cross-entropy,mse, finished, with each (loss, seed)'s test accuracy."""
    variants = build_grid([("p", RunConfig())], [parse_axis("loss=nll,cross-entropy,mse")], {})
    plan = Plan(variants, seeds, ["loss=nll,cross-entropy,mse"])
    for member in plan.members(root):
        key = (member.variant.name, member.seed)
        write_member(member.path, member.config, accuracies[key], loss=(losses or {}).get(key, 1.0))
    board = Board(plan, root)
    board.update()
    return board


def test_identical_variants_share_a_rank_and_say_why(tmp_path):
    """nll and cross-entropy are one objective: the same seeds give the same runs to the last digit."""
    accuracies = {("nll", 0): 0.91, ("nll", 1): 0.93, ("cross-entropy", 0): 0.91, ("cross-entropy", 1): 0.93,
                  ("mse", 0): 0.90, ("mse", 1): 0.905}  # fmt: skip
    board = loss_board(tmp_path, accuracies)
    rows = board.rows()
    assert [(r.rank_text, r.name) for r in rows] == [("=1", "nll"), ("=1", "cross-entropy"), ("3", "mse")]
    assert [r.verdict for r in rows][:2] == ["leader", "identical to nll"]
    assert "nll and cross-entropy gave identical results for every seed: the same objective" in board.summary()
    assert not any("nll vs cross-entropy" in line for line in board.summary())  # no "more seeds might tell"

    table = table_lines(board)
    assert [line[:6] for line in table[3:]] == ["=1  nl", "=1  cr", " 3  ms"]  # under 2 header lines and dashes
    assert "| =1 | cross-entropy |" in markdown(board) and "| 3 | mse |" in markdown(board)
    ranked = list(csv.DictReader(io.StringIO(csv_text(board))))
    assert [(r["rank"], r["tied"], r["identical_to"]) for r in ranked] == [
        ("1", "true", ""),
        ("1", "true", "nll"),
        ("3", "false", ""),
    ]


def test_identical_variants_below_the_leader_are_named_once(tmp_path):
    accuracies = {("nll", 0): 0.90, ("nll", 1): 0.92, ("cross-entropy", 0): 0.90, ("cross-entropy", 1): 0.92,
                  ("mse", 0): 0.95, ("mse", 1): 0.96}  # fmt: skip
    board = loss_board(tmp_path, accuracies)
    assert [(r.rank_text, r.name, r.verdict[:9]) for r in board.rows()] == [
        ("1", "mse", "leader"),
        ("=2", "nll", "not disti"),
        ("=2", "cross-entropy", "identical"),
    ]
    summary = board.summary()
    assert summary[1:] == ["nll and cross-entropy gave identical results for every seed: the same objective"]
    assert "nll" in summary[0] and "cross-entropy" not in summary[0]  # mse against nll only


def test_equal_means_tie_without_claiming_identical_runs(tmp_path):
    # The same mean over different seeds; the same test accuracy but other losses on the way.
    accuracies = {("nll", 0): 0.90, ("nll", 1): 0.92, ("cross-entropy", 0): 0.90, ("cross-entropy", 1): 0.92,
                  ("mse", 0): 0.92, ("mse", 1): 0.90}  # fmt: skip
    board = loss_board(tmp_path, accuracies, losses={("cross-entropy", 0): 2.0})
    rows = board.rows()
    assert [r.rank_text for r in rows] == ["=1", "=1", "=1"]
    assert [r.verdict for r in rows] == ["leader"] + ["not distinguishable with 2 seeds"] * 2
    assert "nll and cross-entropy gave the same test accuracy for every seed: the same objective" in board.summary()
    assert "nll vs mse: no difference at 2 seeds" in board.summary()


def test_one_seed_is_one_seed(tmp_path):
    accuracies = {("nll", 0): 0.91, ("cross-entropy", 0): 0.91, ("mse", 0): 0.90}
    board = loss_board(tmp_path, accuracies, seeds=1)
    assert "3 variants × 1 seed;" in markdown(board)
    assert verdict_note(board).endswith("not distinguishable at 1 seed.")
    assert "nll and cross-entropy gave identical results with 1 seed: the same objective" in board.summary()
    assert [r.verdict for r in board.rows()][:2] == ["leader (1 seed: no spread yet)", "identical to nll"]


# -- the command ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, words",
    [
        (["--vary", "lss=nll,mse"], ["--vary lss=nll,mse", "did you mean 'loss'"]),
        (
            [
                "--vary",
                "loss=nll,mse",
                "--vary",
                "optimizer=sgd,adam,adamw,rmsprop,adagrad,momentum,nesterov,adadelta",
                "--seeds",
                "5",
            ],
            ["80 runs", "--yes"],
        ),
        (["--vary", "loss=nll,mse", "--loss", "mse"], ["--vary loss", "--loss"]),
        (["--vary", "loss=nll,mse", "--resume", "latest"], ["--resume"]),
        (["--resume", "latest", "--seeds", "5"], ["--resume", "--seeds"]),
    ],
)
def test_bad_comparisons_exit_2_before_anything_trains(args, words, tmp_path):
    result = CliRunner().invoke(app, ["compare", *args, "--headless", "--runs", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    for word in words:
        assert word in result.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def compare_args(mnist_root: Path, runs_root: Path, epochs: int = 2, subset: int = 2000, *extra: str) -> list[str]:
    return ["compare", "--preset", "tiny", "--vary", "loss=nll,mse", "--seeds", "2", "--epochs", str(epochs),
            "--subset", str(subset), "--headless", "--data-dir", str(mnist_root), "--runs", str(runs_root),
            *extra]  # fmt: skip


def test_headless_comparison_leaves_ordinary_runs_and_a_leaderboard(mnist_root, tmp_path, cli_env, mlp_tui_cmd):
    runs_root = tmp_path / "runs"
    # A fixed thread count: float sums depend on it, and the solo run below must match exactly.
    proc = subprocess.run(mlp_tui_cmd + compare_args(mnist_root, runs_root, 2, 2000, "--threads", "1"), env=cli_env,
                          capture_output=True, text=True, timeout=TIMEOUT_S)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert out.count(" completed  test ") == 4  # one line per finished member
    assert "2 variants × 2 seeds = 4 runs" in out
    table = [line for line in out.splitlines() if line.startswith(("1  ", "2  "))]
    assert len(table) == 2 and all(" ± " in line and "2/2" in line for line in table)
    assert "nll" in out and "mse" in out and "Welch's t-test" in out

    [folder] = list(runs_root.iterdir())
    assert folder.name.endswith("-compare")
    members = sorted(p for p in folder.iterdir() if p.is_dir())
    assert [m.name for m in members] == ["01-nll-seed0", "01-nll-seed1", "02-mse-seed0", "02-mse-seed1"]
    for member in members:
        assert {"config.toml", "metrics.jsonl", "best.pt", "last.pt", "report.txt"} <= {
            p.name for p in member.iterdir()
        }
    rows = list(csv.DictReader((folder / "leaderboard.csv").open()))
    assert {r["variant"] for r in rows} == {"nll", "mse"} and all(r["seeds_finished"] == "2" for r in rows)
    assert "| 1 |" in (folder / "leaderboard.md").read_text()

    # `runs` shows the comparison as one line with its progress.
    listing = subprocess.run([*mlp_tui_cmd, "runs", "--runs", str(runs_root)], env=cli_env, capture_output=True,
                             text=True, timeout=60).stdout  # fmt: skip
    assert len(listing.strip().splitlines()) == 2 and "4/4 runs" in listing and "completed" in listing

    # A member is an ordinary run: eval repeats its recorded accuracy, and the same run trained
    # alone (its config.toml as the preset, so the same seed and thread count) gives the same
    # numbers as inside the comparison, to the last bit.
    member = members[2]
    evaluated = subprocess.run([*mlp_tui_cmd, "eval", str(member), "--data-dir", str(mnist_root)], env=cli_env,
                               capture_output=True, text=True, timeout=120)  # fmt: skip
    assert evaluated.returncode == 0 and "The same as the run recorded" in evaluated.stdout
    solo_dir = tmp_path / "solo"
    solo = subprocess.run([*mlp_tui_cmd, "run", "--preset", str(member / "config.toml"), "--headless",
                           "--data-dir", str(mnist_root), "--run-dir", str(solo_dir)],
                          env=cli_env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert solo.returncode == 0, solo.stderr

    def finish(path: Path) -> dict:
        return next(r for r in read_events(path / "metrics.jsonl") if r["event"] == "run_finished")

    assert finish(solo_dir)["test_accuracy"] == finish(member)["test_accuracy"]
    assert finish(solo_dir)["test_loss"] == finish(member)["test_loss"]

    # The plan redoes the comparison, and showing it again needs no training.
    assert len(read_plan(folder / "compare.toml").variants) == 2
    shown = subprocess.run([*mlp_tui_cmd, "compare", str(folder), "--headless"], env=cli_env, capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert shown.returncode == 0 and "2/2" in shown.stdout


def test_kill_9_during_a_comparison_then_resume_finishes_it(mnist_root, tmp_path, cli_env, mlp_tui_cmd):
    runs_root = tmp_path / "runs"
    args = compare_args(mnist_root, runs_root, epochs=30, subset=20000)
    driver = subprocess.Popen(mlp_tui_cmd + args, env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert driver.stderr is not None
    deadline = time.monotonic() + TIMEOUT_S

    def epochs_written() -> int:
        return sum(p.read_text().count('"epoch_end"') for p in runs_root.glob("*/*/metrics.jsonl"))

    while epochs_written() < 2:  # members are training
        assert driver.poll() is None and time.monotonic() < deadline, driver.stderr.read().decode()
        time.sleep(0.1)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    [folder] = list(runs_root.iterdir())
    # The workers notice their driver is gone, save their members and end.
    pids = [
        json.loads((m / "process.json").read_text())["pid"] for m in folder.glob("*/") if (m / "process.json").exists()
    ]
    while any(_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, "workers kept running after their driver was killed"
        time.sleep(0.1)
    statuses = [
        read_events(m / "metrics.jsonl")[-1].get("status") for m in folder.glob("*/") if (m / "metrics.jsonl").exists()
    ]
    assert statuses and "completed" not in statuses

    shortened = subprocess.run([*mlp_tui_cmd, "compare", "--resume", "latest", "--headless", "--runs", str(runs_root),
                                "--data-dir", str(mnist_root)],
                               env=cli_env, capture_output=True, text=True, timeout=TIMEOUT_S)  # fmt: skip
    assert shortened.returncode == 0, shortened.stdout + shortened.stderr
    members = sorted(p for p in folder.iterdir() if p.is_dir())
    assert len(members) == 4
    for member in members:
        records = read_events(member / "metrics.jsonl")
        assert records[-1]["event"] == "run_finished" and records[-1]["status"] == "completed"
        assert sorted({r["epoch"] for r in records if r["event"] == "epoch_end"}) == list(range(1, 31))
    resumed = [m for m in members if sum(r["event"] == "run_started" for r in read_events(m / "metrics.jsonl")) > 1]
    assert resumed, "no member continued from its checkpoint"
    assert "4/4" in (folder / "leaderboard.md").read_text() or "2/2" in (folder / "leaderboard.md").read_text()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_comparison_file_is_refused_as_a_preset_with_the_right_command(tmp_path):
    variants = build_grid([("p", build_config({}))], [parse_axis("loss=nll,mse")], {})
    folder = new_comparison(Plan(variants, 2, ["loss=nll,mse"]), tmp_path)
    result = CliRunner().invoke(app, ["run", "--preset", str(folder / "compare.toml"), "--headless"])
    assert result.exit_code == 2 and "mlp-tui compare --preset" in result.output


def test_a_comparison_file_redoes_the_same_grid_and_a_damaged_one_is_named(tmp_path):
    from mlp_tui.cli.compare import _plan

    variants = build_grid([("tiny", RunConfig(hidden=(16,)))], [parse_axis("hidden=8/16,16")], {"epochs": 2})
    folder = new_comparison(Plan(variants, 2, ["hidden=8/16,16"]), tmp_path)
    again = _plan([str(folder / "compare.toml")], [], {}, 3, False)
    assert [v.name for v in again.variants] == ["hidden 8", "hidden 16,16"]
    assert [v.config for v in again.variants] == [v.config for v in variants] and again.seeds == 2
    text = (folder / "compare.toml").read_text().replace('activation = "relu"', 'activation = "relux"', 1)
    (folder / "compare.toml").write_text(text)
    result = CliRunner().invoke(app, ["compare", "--resume", str(folder), "--headless"])
    assert result.exit_code == 2 and "compare.toml: variant 1" in result.output and "relux" in result.output


def test_the_summary_names_the_winner_of_the_pairs_it_compares(tmp_path):
    """While a comparison runs, a variant can lead on all its seeds yet trail on the shared ones."""
    variants = build_grid([("p", RunConfig())], [parse_axis("optimizer=adam,sgd")], {})
    plan = Plan(variants, 3, ["optimizer=adam,sgd"])
    accuracies = {("adam", 0): 0.970, ("adam", 1): 0.971, ("adam", 2): 0.990, ("sgd", 0): 0.975, ("sgd", 1): 0.976}
    for member in plan.members(tmp_path):
        key = (member.variant.name, member.seed)
        if key in accuracies:
            write_member(member.path, member.config, accuracies[key])
    board = Board(plan, tmp_path)
    board.update()
    assert board.summary() == ["sgd beats adam by 0.5 ± 0.0 points"]


def test_a_comparison_still_being_trained_is_not_resumed_twice(tmp_path):
    from mlp_tui.runs.compare.folder import write_driver_file

    variants = build_grid([("p", RunConfig())], [parse_axis("loss=nll,mse")], {})
    folder = new_comparison(Plan(variants, 2, ["loss=nll,mse"]), tmp_path)
    write_driver_file(folder)  # this very process: alive
    result = CliRunner().invoke(app, ["compare", "--resume", str(folder), "--headless"])
    assert result.exit_code == 2 and "still being trained" in result.output and "mlp-tui watch" in result.output
