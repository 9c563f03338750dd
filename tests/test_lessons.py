"""Lessons: the shipped files load and describe comparisons that fit their stated time; a broken
file is refused naming its key; the answer is built from the measured results and agrees with
the leaderboard; `mlp-tui lesson` lists, runs headless, and a lesson's folder shows its answer."""

from __future__ import annotations

import ast
import asyncio
import re
import subprocess
from pathlib import Path

import pytest
from textual.widgets import Static
from typer.testing import CliRunner

from conftest import wait_until
from mlp_tui.cli.main import app
from mlp_tui.core.config import ConfigError, RunConfig
from mlp_tui.core.lessons import TABS, builtin_lesson_dir, list_lessons, load_lesson, resolve_lesson
from mlp_tui.runs.compare.answer import answer_lines
from mlp_tui.runs.compare.board import Board
from mlp_tui.runs.compare.grid import build_grid, parse_axis
from mlp_tui.runs.compare.lesson import LESSON_FILE, lesson_plan
from mlp_tui.runs.compare.plan import Plan, read_plan, write_plan
from mlp_tui.views.tui.app import create_app
from mlp_tui.views.tui.screens.compare import CompareScreen
from mlp_tui.views.tui.screens.member import MemberScreen
from mlp_tui.views.tui.widgets.lesson_panel import LessonPanel
from test_compare import write_member
from test_compare_tui import plain

REQUIRED = {"bias", "dropout", "sigmoid-relu", "losses", "optimizers", "init", "depth-width", "input-scaling",
            "learning-rate"}  # fmt: skip

GOOD = """
title = "Two losses"
question = "Is NLL the same as cross-entropy?"
explanation = "They are one objective."
tab = "health"
[compare]
preset = "tiny"
seeds = 2
vary = ["loss=nll,cross-entropy"]
[compare.settings]
epochs = 1
subset = 600
hidden = [8]
"""


def write_lesson(folder: Path, text: str, name: str = "mine") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def test_every_required_lesson_ships_loads_and_builds_its_comparison():
    lessons, broken = list_lessons()
    assert not broken
    by_name = {lesson.name: lesson for lesson in lessons}
    assert REQUIRED <= set(by_name)
    for lesson in by_name.values():
        plan = lesson_plan(lesson)
        assert len(plan.variants) >= 2 and plan.seeds >= 3, lesson.name  # a verdict needs seeds
        # Measured, and small enough for a lesson: about two minutes on the 2-core machine.
        assert lesson.seconds is not None and lesson.seconds <= 150 and lesson.hardware, lesson.name
        assert lesson.watch and lesson.source and lesson.tab in TABS, lesson.name


def test_the_lesson_tabs_are_the_training_screens_tabs():
    source = Path("mlp_tui/views/tui/screens/training.py").read_text()
    panes = [
        keyword.value.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "TabPane"
        for keyword in node.keywords
        if keyword.arg == "id" and isinstance(keyword.value, ast.Constant)
    ]
    assert tuple(panes) == TABS


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (('explanation = "They', 'explaination = "They'), ["unknown key 'explaination'", "did you mean 'explanation'"]),
        (('tab = "health"', 'tab = "helth"'), ["key 'tab'", "did you mean 'health'"]),
        (("seeds = 2", "seeds = 0"), ["[compare]", "key 'seeds'"]),
        (('vary = ["loss=nll,cross-entropy"]', 'vary = ["los=nll,mse"]'), ["key 'vary'", "'los'", "'loss'"]),
        (('vary = ["loss=nll,cross-entropy"]', 'vary = ["loss=nll,hinge"]'), ["key 'vary'", "hinge"]),
        (("epochs = 1", "epoch = 1"), ["[compare.settings]", "key 'epoch'"]),
        (('preset = "tiny"', 'preset = "tinny"'), ["key 'preset'", "did you mean 'tiny'"]),
        (('question = "Is NLL the same as cross-entropy?"', ""), ["key 'question' is missing"]),
        (("[compare.settings]", "[compare.setting]"), ["[compare]", "unknown key 'setting'"]),
        (('title = "Two losses"', 'title = "Two losses'), ["not valid TOML"]),
    ],
)
def test_a_broken_lesson_file_exits_2_naming_the_file_and_key(change, words, tmp_path):
    path = write_lesson(tmp_path, GOOD.replace(*change))
    result = CliRunner().invoke(app, ["lesson", str(path), "--headless", "--runs", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert str(path) in result.output
    for word in words:
        assert word in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()  # refused before anything trains


def test_unknown_lesson_names_the_ones_there_are():
    result = CliRunner().invoke(app, ["lesson", "dropuot"])
    assert result.exit_code == 2
    assert "unknown lesson 'dropuot'" in result.output and "did you mean 'dropout'" in result.output


def test_the_list_gives_every_lesson_its_duration_and_skips_a_broken_one_saying_so(tmp_path, monkeypatch):
    monkeypatch.setenv("MLP_TUI_LESSONS", str(tmp_path))
    write_lesson(tmp_path, GOOD, "mine")
    write_lesson(tmp_path, GOOD.replace("title", "titel"), "broken")
    result = CliRunner().invoke(app, ["lesson"])
    assert result.exit_code == 0, result.output
    out = result.output
    for name in REQUIRED:
        line = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert re.search(r" ~\d+ (s|min)  \S", line), line
    assert "Times: the whole lesson, measured on 2 CPU cores." in out
    assert "\nmine " in out and "Two losses" in out  # a teacher's own lesson joins the list
    assert "skipped a broken lesson" in out and "broken.toml" in out and "'titel'" in out


def test_a_teachers_lesson_of_the_same_name_replaces_the_built_in(tmp_path, monkeypatch):
    monkeypatch.setenv("MLP_TUI_LESSONS", str(tmp_path))
    write_lesson(tmp_path, GOOD, "bias")
    assert resolve_lesson("bias").title == "Two losses"
    assert load_lesson(builtin_lesson_dir() / "bias.toml").title != "Two losses"


# -- the answer: built from what was measured ------------------------------------------------------


def board_of(root: Path, axes: list[str], accuracies, seeds: int = 3) -> Board:
    variants = build_grid([("tiny", RunConfig())], [parse_axis(a) for a in axes], {})
    plan = Plan(variants, seeds, axes)
    for member in plan.members(root):
        write_member(member.path, member.config, accuracies(member.variant, member.seed))
    board = Board(plan, root)
    board.update()
    return board


def test_the_answer_gives_each_level_and_a_real_difference_with_its_p_value(tmp_path):
    acc = {True: [0.979, 0.980, 0.978], False: [0.970, 0.971, 0.969]}
    board = board_of(tmp_path, ["bias=true,false"], lambda v, s: acc[v.settings["bias"]][s])
    head, line = answer_lines(board)
    assert "mean ± sd over 3 seeds" in head
    rows = {r.name: r for r in board.rows()}  # the leaderboard's own numbers
    assert line.startswith(f"bias {rows['bias'].accuracy_text()} %, no bias {rows['no bias'].accuracy_text()} %")
    p = rows["no bias"].p_value
    assert p is not None and p < 0.05
    assert line.endswith(f": a real difference at 3 seeds (p = {p:.2g})")


def test_noise_is_no_difference_and_the_answer_goes_per_condition(tmp_path):
    acc = {(True, ()): [0.920, 0.925, 0.915], (False, ()): [0.919, 0.926, 0.917],
           (True, (32,)): [0.960, 0.961, 0.959], (False, (32,)): [0.950, 0.951, 0.949]}  # fmt: skip
    board = board_of(tmp_path, ["bias=true,false", "hidden=none/32"],
                     lambda v, s: acc[v.settings["bias"], v.settings["hidden"]][s])  # fmt: skip
    _, linear, hidden, pooled = answer_lines(board)
    assert linear.startswith("hidden none: ") and "no difference at 3 seeds (p = " in linear
    assert hidden.startswith("hidden 32: bias 96.00 ± 0.10 %, no bias 95.00 ± 0.10 %: a real difference")
    assert pooled.startswith("Both conditions together, paired by seed: ")  # the leaderboard's summary line
    assert pooled.endswith(next(line for line in board.summary() if "no bias" in line))


def test_nll_and_cross_entropy_are_said_to_be_one_objective(tmp_path):
    acc = {"nll": [0.91, 0.93, 0.92], "cross-entropy": [0.91, 0.93, 0.92], "mse": [0.80, 0.82, 0.81]}
    board = board_of(tmp_path, ["loss=nll,cross-entropy,mse"], lambda v, s: acc[v.settings["loss"]][s])
    _, line = answer_lines(board)
    assert "Best: nll" in line and "a real difference from mse (p = " in line
    assert "identical results to cross-entropy" in line
    assert "nll and cross-entropy are one objective under two names" in line
    assert line.endswith("identical results for every seed (3 seeds)")


def test_the_answer_waits_for_results_and_says_how_far_it_is(tmp_path):
    variants = build_grid([("tiny", RunConfig())], [parse_axis("bias=true,false")], {})
    plan = Plan(variants, 2, ["bias=true,false"])
    members = plan.members(tmp_path)
    board = Board(plan, tmp_path)
    board.update()
    assert answer_lines(board) == ["The answer comes as the runs finish (0 of 4 so far)."]
    for member in members[:3]:
        write_member(member.path, member.config, 0.9 + 0.01 * member.seed)
    board.update()
    head, line = answer_lines(board)
    assert "(so far: 3 of 4 runs finished)" in head
    assert "too few seeds to tell (1 seed)" in line


# -- end to end --------------------------------------------------------------------------------------


def test_a_lesson_runs_headless_with_its_answer_and_its_folder_shows_it_again(
    mnist_root, tmp_path, cli_env, mlp_tui_cmd
):
    path = write_lesson(tmp_path / "lessons", GOOD)
    runs_root = tmp_path / "runs"
    args = ["lesson", str(path), "--headless", "--data-dir", str(mnist_root), "--runs", str(runs_root)]
    proc = subprocess.run(mlp_tui_cmd + args, env=cli_env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert out.startswith("Lesson: Two losses (2 variants × 2 seeds)")
    assert "Question: Is NLL the same as cross-entropy?" in out
    assert out.count(" completed  test ") == 4
    table = [line for line in out.splitlines() if re.match(r"=?\d+ ", line)]
    assert len(table) == 2  # the leaderboard, then the answer built from it
    answer = " ".join(out[out.index("Answer, as measured") :].split())  # unwrapped
    assert "nll and cross-entropy are one objective under two names" in answer
    for row in table:  # the answer's numbers are the leaderboard's
        numbers = re.search(r"\d+\.\d\d ± \d+\.\d\d", row)
        assert numbers is not None and numbers.group(0) in answer
    assert "Why: They are one objective." in out

    [folder] = list(runs_root.iterdir())
    assert folder.name.endswith("-lesson-mine") and (folder / LESSON_FILE).is_file()
    shown = subprocess.run([*mlp_tui_cmd, "compare", str(folder), "--headless"], env=cli_env, capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert shown.returncode == 0 and "Answer, as measured" in shown.stdout and "Why:" in shown.stdout


def test_a_lesson_needs_two_variants(tmp_path):
    path = write_lesson(tmp_path, GOOD.replace("loss=nll,cross-entropy", "loss=nll"))
    with pytest.raises(ConfigError, match="key 'vary': a single variant"):
        lesson_plan(load_lesson(path))


def test_the_compare_screen_shows_the_lesson_and_opens_a_run_where_it_says_to_look(tmp_path):
    acc = {"nll": [0.91, 0.93, 0.92], "cross-entropy": [0.91, 0.93, 0.92]}
    folder = tmp_path / "lesson"
    board = board_of(folder, ["loss=nll,cross-entropy"], lambda v, s: acc[v.settings["loss"]][s])
    write_plan(folder, board.plan)
    (folder / LESSON_FILE).write_text(GOOD)  # tab = "health"

    async def drive() -> None:
        app = create_app(runs_root=tmp_path, compare=board)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = app.screen
            assert isinstance(screen, CompareScreen)
            panel = screen.query_one(LessonPanel)
            await wait_until(pilot, lambda: "Answer, as measured" in plain(panel.query_one("#lesson-text", Static)))
            text = " ".join(plain(panel.query_one("#lesson-text", Static)).split())  # as shown
            assert "Is NLL the same as cross-entropy?" in text and "one objective under two names" in text
            loss_chart = screen.query_one("#compare-loss")
            assert panel.display and not loss_chart.display  # the lesson in the loss chart's place
            await pilot.press("l")
            assert not panel.display and loss_chart.display
            await pilot.press("l")
            assert panel.display
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, MemberScreen))
            member = app.screen
            assert isinstance(member, MemberScreen)
            await wait_until(pilot, lambda: member.query_one("#tabs").active == "health")

    asyncio.run(drive())


def test_the_setup_screen_picks_a_lesson_and_starts_its_comparison(tmp_path, monkeypatch):
    from mlp_tui.views.tui import app as app_module
    from mlp_tui.views.tui.dialogs import ConfirmDialog, PickDialog
    from test_compare_tui import FakeDriver

    monkeypatch.setenv("MLP_TUI_LESSONS", str(tmp_path / "mine"))
    write_lesson(tmp_path / "mine", GOOD, "zz-mine")  # after the built-in ones
    started: list[Path] = []

    def start_driver(folder, *, jobs=None, data_dir=None, device=None):
        started.append(Path(folder))
        return FakeDriver(Path(folder))

    monkeypatch.setattr(app_module, "start_driver", start_driver)

    async def drive() -> None:
        app = create_app("tiny", runs_root=tmp_path / "runs")
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("ctrl+e")
            await wait_until(pilot, lambda: isinstance(app.screen, PickDialog))
            assert isinstance(app.screen, PickDialog)
            assert len(app.screen.choices) == len(list_lessons()[0]) and "Two losses" in app.screen.choices[-1]
            await pilot.press("end", "enter")
            await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen))
            screen = app.screen
            assert isinstance(screen, CompareScreen) and screen.lesson is not None
            assert screen.lesson.title == "Two losses" and screen.query_one(LessonPanel).display
            await pilot.press("q")  # this app trains it: asks, then stops it (saved) and quits
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await wait_until(pilot, lambda: not app.is_running)

    asyncio.run(drive())
    [folder] = started
    assert folder.name.endswith("-lesson-zz-mine") and (folder / LESSON_FILE).read_text() == GOOD
    assert len(read_plan(folder / "compare.toml").variants) == 2


def test_the_shipped_losses_lesson_says_nll_and_cross_entropy_are_one_objective(
    mnist_root, tmp_path, cli_env, mlp_tui_cmd
):
    """A shipped lesson as a learner runs it (9 runs, about half a minute): its answer names the
    leaderboard's numbers and says the two names are one objective, whatever the numbers are."""
    args = ["lesson", "losses", "--headless", "--data-dir", str(mnist_root), "--runs", str(tmp_path / "runs")]
    proc = subprocess.run(mlp_tui_cmd + args, env=cli_env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    table = [line for line in out.splitlines() if re.match(r" ?=?\d+ ", line)]
    assert len(table) == 3
    answer = " ".join(out[out.index("Answer, as measured") : out.index("Why:")].split())
    for row in table:
        numbers = re.search(r"\d+\.\d\d ± \d+\.\d\d", row)
        assert numbers is not None and numbers.group(0) in answer
    assert "nll and cross-entropy are one objective under two names" in answer


def test_a_lesson_of_presets_compares_the_presets_and_a_failed_run_is_counted_not_awaited(tmp_path):
    import json

    from mlp_tui.core.events import RunFailed

    variants = build_grid([("tiny", RunConfig()), ("kaiming", RunConfig(init="kaiming"))], [], {})
    plan = Plan(variants, 2, [])
    members = plan.members(tmp_path)
    for member in members[:3]:
        write_member(member.path, member.config, 0.95 if member.variant.preset == "kaiming" else 0.90)
    failed = members[3].path  # kaiming, seed 1: the loss went NaN
    failed.mkdir(parents=True)
    event = RunFailed(reason="nan", message="training diverged", epoch=1)
    (failed / "metrics.jsonl").write_text(json.dumps(event.to_dict() | {"t": 1.0}) + "\n")
    board = Board(plan, tmp_path)
    board.update()
    head, line = answer_lines(board)
    assert "(3 of 4 runs finished; 1 failed or stopped)" in head and "so far" not in head
    assert line.startswith("kaiming 95.00 %, tiny 90.00 ± 0.00 %")  # the presets are the question
    assert line.endswith("too few seeds to tell (1 seed)")


def test_a_preset_given_twice_is_refused(tmp_path):
    path = write_lesson(tmp_path, GOOD.replace('preset = "tiny"', 'preset = ["tiny", "tiny"]'))
    with pytest.raises(ConfigError, match="key 'preset': 'tiny' is given twice"):
        load_lesson(path)
