"""SVG snapshots of every screen at 80×24 and 120×40 (pytest-textual-snapshot): every tab of the
training screen, the setup screen, the compare screen and `watch`, each on fixed events so the
pictures are the same on any machine, every run. Review a changed snapshot like code: open the
SVG and look at it. Regenerate with `pytest tests/test_snapshots.py --snapshot-update`.

What keeps them still: a finished run (no bar, no ETA ticking), its start time taken from its
own events, the status line's clock frozen, toasts cleared, the terminal's Unicode and colour
decided here rather than by the machine's locale, the core count and device label fixed, and
every path relative to a fixed working directory, and tables whose column widths are worked out
before the picture (never left to a table's lazy sizing)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from textual.widgets import DataTable

import mlp_tui.views.tui.screens.setup  # noqa: F401  (the module the core count is read in)
import mlp_tui.views.tui.screens.training as training_module
from conftest import FakeRun, wait_until
from mlp_tui.core.config import RunConfig
from mlp_tui.core.events import (
    BatchProgress,
    EpochEnd,
    Evaluation,
    Event,
    HealthWarning,
    LayerHealth,
    LayerStats,
    Misclassified,
    RunFinished,
    RunStarted,
)  # fmt: skip
from mlp_tui.engine.model import build_model
from mlp_tui.runs.compare.board import Board
from mlp_tui.runs.compare.grid import Axis, build_grid
from mlp_tui.runs.compare.plan import Plan, write_plan
from mlp_tui.runs.store import CHECKPOINT_FORMAT, atomic_save
from mlp_tui.views.tui import app as app_module
from mlp_tui.views.tui.app import create_app
from mlp_tui.views.tui.screens.compare import CompareScreen
from mlp_tui.views.tui.screens.setup import SetupScreen
from mlp_tui.views.tui.screens.training import TrainingScreen
from mlp_tui.views.tui.widgets import digit_grid as digit_grid_module
from mlp_tui.views.tui.widgets import status_header as status_header_module
from mlp_tui.views.tui.widgets.leaderboard import Leaderboard

SIZES = [(80, 24), (120, 40)]
T0 = 1_700_000_000.0  # the fixed run's start (wall clock)
CONFIG = RunConfig(hidden=(32,), epochs=3, batch_size=128, lr=0.01, device="cpu", threads="1")
BATCHES = 15
# Every tab. Weights (7), Draw (8) and Predictions (0) read the hand-made checkpoint below.
TABS = {"1": "charts", "2": "classes", "3": "mistakes", "4": "confusion", "5": "model", "6": "health",
        "7": "weights", "8": "draw", "9": "data", "0": "predictions"}  # fmt: skip


@pytest.fixture(autouse=True)
def still(monkeypatch, tmp_path):
    """Everything a picture could take from the machine or the clock, fixed."""
    monkeypatch.chdir(tmp_path)  # run directories are shown relative: runs/…
    for name in ("NO_COLOR", "FORCE_COLOR", "TEXTUAL_ANIMATIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLP_TUI_ASCII", "0")  # Unicode, whatever the machine's locale (every module asks)
    monkeypatch.setattr(app_module, "ascii_only", lambda stream=None: False)
    monkeypatch.setattr(digit_grid_module, "wants_ascii", lambda stream=None: False)
    clock = SimpleNamespace(time=lambda: T0 + 42.0, strftime=lambda *a: "20240101-000000")
    monkeypatch.setattr(status_header_module, "time", clock)
    monkeypatch.setattr(training_module, "time", clock)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    from mlp_tui.engine import model

    monkeypatch.setattr(model, "device_name", lambda device: "CPU")


# -- a fixed tiny run, as events ---------------------------------------------------------------


def started() -> RunStarted:
    return RunStarted(config=CONFIG.to_dict(), preset="tiny", device="CPU (1 thread)", summary="784-32-10",
                      parameters=25_450, train_size=1_800, val_size=200, test_size=500, run_dir="runs/tiny-run",
                      time=T0)  # fmt: skip


def progress(epoch: int) -> BatchProgress:
    return BatchProgress(epoch=epoch, epochs=3, batch=BATCHES, batches=BATCHES, loss=0.9 / epoch,
                         accuracy=0.6 + 0.1 * epoch, samples_per_s=9000.0, lr=0.01)  # fmt: skip


def epoch_end(epoch: int) -> EpochEnd:
    return EpochEnd(epoch=epoch, epochs=3, train_loss=1.2 / epoch, train_accuracy=0.55 + 0.12 * epoch,
                    val_loss=1.0 / epoch + 0.05, val_accuracy=0.5 + 0.13 * epoch, lr=0.01, seconds=2.0,
                    samples_per_s=9000.0, is_best=True)  # fmt: skip


def health(epoch: int) -> LayerHealth:
    return LayerHealth(epoch=epoch, layers=(
        LayerStats(layer=1, units=32, dead=0.1 * epoch, saturated=None, act_mean=0.4, act_std=0.6,
                   weight_norm=10.0 + epoch, grad_norm=0.02, update_ratio=1e-3),
        LayerStats(layer=2, units=10, dead=None, saturated=None, act_mean=None, act_std=None, weight_norm=3.0,
                   grad_norm=0.1, update_ratio=1e-3),
    ))  # fmt: skip


def digit(i: int) -> bytes:
    """A fixed 28×28 picture: a bar whose place depends on i."""
    return bytes(200 if 6 + i % 10 <= x <= 9 + i % 10 and 4 <= y <= 23 else 0 for y in range(28) for x in range(28))


def evaluation(split: str, total: int, wrong: int) -> Evaluation:
    per_class = total // 10
    correct = tuple(per_class - wrong // 10 - (1 if c < wrong % 10 else 0) for c in range(10))
    mistakes = tuple(Misclassified(index=i, pixels=digit(i), predicted=(i + 1) % 10, true=i % 10,
                                   probabilities=tuple(0.82 if c == (i + 1) % 10 else 0.02 for c in range(10)))
                     for i in range(wrong))  # fmt: skip
    confusion = tuple(tuple(correct[t] if p == t else per_class - correct[t] if p == (t + 1) % 10 else 0
                            for p in range(10)) for t in range(10))  # fmt: skip
    return Evaluation(split=split, epoch=3, loss=0.3, accuracy=sum(correct) / total, class_correct=correct,
                      class_total=(per_class,) * 10, confusion=confusion, misclassified=mistakes)  # fmt: skip


WARNING = HealthWarning(epoch=3, code="dead-units", layer=1, message="layer 1: 30 % of units never fire",
                        advice="lower the learning rate or try leaky_relu")  # fmt: skip
FINISHED = RunFinished(status="completed", epochs_done=3, best_epoch=3, best_val_accuracy=0.89, test_loss=0.31,
                       test_accuracy=0.9, seconds=6.5)  # fmt: skip


def history() -> list[Event]:
    events: list[Event] = [started()]
    for epoch in (1, 2, 3):
        events += [progress(epoch), epoch_end(epoch), health(epoch)]
    return [*events, WARNING, evaluation("val", 200, 22), evaluation("test", 500, 50), FINISHED]


FOLLOWERS = ("training", "board")  # workers that follow a run or a comparison until the screen closes


async def settle(pilot) -> None:
    """Workers done, toasts gone, nothing left to draw."""
    app = pilot.app
    await wait_until(pilot, lambda: not [w for w in app.workers if w.is_running and w.group not in FOLLOWERS])
    # A DataTable sizes its columns to new rows later, on a refresh: wait until every table has.
    await wait_until(
        pilot,
        lambda: all(
            not table._require_update_dimensions and not table._new_rows for table in app.screen.query(DataTable)
        ),
    )
    app.clear_notifications()
    await pilot.pause()


# -- the training screen: every tab ---------------------------------------------------------------


def checkpoint(run_dir: Path) -> None:
    """A hand-made best.pt, set rather than trained, so its numbers are the same on any CPU:
    hidden unit j draws the pattern of class j % 10 of the fixed data set (its pixels up, the
    rest down) and feeds that class. Its pictures show those patterns; it predicts well."""
    gen = torch.Generator().manual_seed(0)
    prototypes = (torch.rand(10, 784, generator=gen) > 0.7).float()  # as synthetic_digits draws them
    model = build_model(CONFIG)
    first, second = (layer for layer in model if isinstance(layer, torch.nn.Linear))
    with torch.no_grad():
        for unit in range(first.out_features):
            first.weight[unit] = (prototypes[unit % 10] - 0.3) / 64  # a power of two: exact
        first.bias.zero_()
        second.weight.copy_(torch.tensor([[1.0 if unit % 10 == c else 0.0 for unit in range(32)] for c in range(10)]))
        second.bias.zero_()
    state = {"format": CHECKPOINT_FORMAT, "config": CONFIG.to_dict(), "preset": "tiny", "epoch": 3,
             "model": model.state_dict(), "val_accuracy": 0.89}  # fmt: skip
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_save(state, run_dir / "best.pt")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("key", list(TABS), ids=lambda k: TABS[k])
def test_training_screen_tab(snap_compare, idx_dataset, size, key):
    """The Data and Predictions tabs read fixed synthetic IDX files; Weights, Draw and
    Predictions the hand-made checkpoint."""
    idx_dataset(Path("data"), "mnist", n_train=200, n_test=50)
    checkpoint(Path("runs/tiny-run"))
    app = create_app("tiny", CONFIG, runs_root=Path("runs"), data_dir=Path("data"))

    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda: isinstance(app.screen, SetupScreen))
        screen = TrainingScreen(CONFIG, "tiny", FakeRun(*history()))
        await app.push_screen(screen)
        await wait_until(pilot, lambda: app.screen is screen and screen.result is not None)
        await pilot.press(key)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


# -- the setup screen --------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_setup_screen(snap_compare, size):
    app = create_app("tiny", runs_root=Path("runs"), data_dir=Path("no-data"))

    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda: isinstance(app.screen, SetupScreen) and app.device_label == "CPU")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


# -- `watch` on a finished run ---------------------------------------------------------------------


def write_run(run_dir: Path, events: list, t: float = T0) -> None:
    import json

    run_dir.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(event.to_dict() | {"t": t}) for event in events]
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_watch_a_finished_run(snap_compare, size):
    run_dir = Path("runs/tiny-run")
    write_run(run_dir, history())
    app = create_app("tiny", CONFIG, runs_root=Path("runs"), data_dir=Path("no-data"), watch=run_dir)

    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda: isinstance(app.screen, TrainingScreen) and app.screen.result is not None)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


# -- the compare screen ------------------------------------------------------------------------


def comparison() -> tuple[Path, Plan]:
    """tiny × loss=nll,mse × 2 seeds, all finished; mse ahead."""
    base = RunConfig(hidden=(16,), epochs=3, device="cpu", threads="1")
    variants = build_grid([("tiny", base)], [Axis("loss", ("nll", "mse"))], {})
    plan = Plan(variants, 2, ["loss=nll,mse"], "preset tiny")
    folder = Path("runs/compare-fixed")
    folder.mkdir(parents=True)
    write_plan(folder, plan)
    accuracy = {("nll", 0): 0.90, ("nll", 1): 0.91, ("mse", 0): 0.95, ("mse", 1): 0.96}
    for member in plan.members(folder):
        top = accuracy[(member.variant.settings["loss"], member.seed)]
        start = RunStarted(config=member.config.to_dict(), preset="tiny", device="CPU", summary="784-16-10",
                           parameters=12_730, train_size=1_800, val_size=200, test_size=500,
                           run_dir=str(member.path), time=T0)  # fmt: skip
        events: list[Event] = [start]
        events += [EpochEnd(epoch=e, epochs=3, train_loss=1 / e, train_accuracy=top - 0.05 / e, val_loss=1.2 / e,
                            val_accuracy=top - 0.1 / e, lr=0.001, seconds=1.5, samples_per_s=1000.0, is_best=True)
                   for e in (1, 2, 3)]  # fmt: skip
        events.append(RunFinished(status="completed", epochs_done=3, best_epoch=3, best_val_accuracy=top,
                                  test_loss=0.3, test_accuracy=top, seconds=4.5))  # fmt: skip
        write_run(member.path, events)
    return folder, plan


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_compare_screen(snap_compare, size):
    folder, plan = comparison()
    app = create_app(runs_root=Path("runs"), compare=Board(plan, folder))

    async def run_before(pilot) -> None:
        def ready() -> bool:
            screen = app.screen
            return isinstance(screen, CompareScreen) and screen.view is not None and \
                screen.query_one(Leaderboard).row_count >= 2  # fmt: skip

        await wait_until(pilot, ready)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


LESSON = """title = "NLL or MSE"
question = "Which loss trains this net better?"
source = "A fixed lesson for the snapshots"
watch = "The leaderboard, and a run's Health tab."
tab = "health"
explanation = \"\"\"MSE's gradient through the softmax shrinks when the net is confidently wrong.

Cross-entropy's does not.\"\"\"
[compare]
preset = "tiny"
vary = ["loss=nll,mse"]
"""


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_lesson_screen(snap_compare, size):
    """A lesson's comparison: the accuracy chart, the lesson with its measured answer beside it."""
    folder, plan = comparison()
    (folder / "lesson.toml").write_text(LESSON)
    app = create_app(runs_root=Path("runs"), compare=Board(plan, folder))

    async def run_before(pilot) -> None:
        def ready() -> bool:
            screen = app.screen
            return isinstance(screen, CompareScreen) and screen.view is not None and \
                bool(screen.view.answer) and screen.query_one(Leaderboard).row_count >= 2  # fmt: skip

        await wait_until(pilot, ready)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
