"""Printed output fits the width it is given: COLUMNS when set (80 in a pipe without it), and a
narrow table keeps what a user needs from it (a run's id, status and test accuracy; a variant's
rank, name, accuracy and verdict)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlp_tui.cli.main import app
from mlp_tui.core.config import RunConfig
from mlp_tui.runs.compare.grid import build_grid, parse_axis
from mlp_tui.runs.compare.plan import Plan, new_comparison
from test_compare import write_member

WIDTHS = [60, 80, 120]


def invoke(width: int, *args: str) -> list[str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def assert_fits(lines: list[str], width: int) -> None:
    wide = [line for line in lines if len(line) > width]
    assert not wide, f"{len(wide)} line(s) wider than {width}: {wide[:3]}"


@pytest.fixture
def runs_root(tmp_path) -> Path:
    """Two finished runs and a finished comparison of three losses × 2 seeds, 91-93 %."""
    config = RunConfig(epochs=3)
    write_member(tmp_path / "20261207-010459-tiny-on-a-long-day", config, 0.9312)
    write_member(tmp_path / "20261207-010505-tiny", config, 0.9187)
    axis = "loss=nll,cross-entropy,mse"
    plan = Plan(build_grid([("tiny", config)], [parse_axis(axis)], {}), 2, [axis])
    folder = new_comparison(plan, tmp_path)
    for member in plan.members(folder):
        accuracy = {"nll": 0.93, "cross-entropy": 0.93, "mse": 0.91}[member.variant.name] + 0.004 * member.seed
        write_member(member.path, member.config, accuracy)
    return tmp_path


@pytest.fixture(scope="module")
def headless_run(mnist_root, tmp_path_factory) -> tuple[list[str], Path]:
    """A real `mlp-tui run --headless` in a pipe with COLUMNS=60: its output and its run directory."""
    tmp = tmp_path_factory.mktemp("narrow")
    env = dict(os.environ, COLUMNS="60", MLP_TUI_PRESETS=str(tmp / "presets"), MLP_TUI_DATA=str(mnist_root))
    cmd = [sys.executable, "-m", "mlp_tui", "run", "--preset", "tiny", "--headless", "--epochs", "1", "--subset",
           "2000", "--device", "cpu", "--run-dir", str(tmp / "run")]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines(), tmp / "run"


@pytest.mark.parametrize("width", WIDTHS)
def test_runs_keeps_id_status_and_test_accuracy_at_any_width(runs_root, width):
    lines = invoke(width, "runs", "--runs", str(runs_root))
    assert_fits(lines, width)
    assert {"id", "status", "test"} <= set(lines[0].split())
    by_id = {line.split()[0]: line for line in lines[1:]}
    assert (
        "completed" in by_id["20261207-010459-tiny-on-a-long-day"]
        and "93.12 %" in by_id["20261207-010459-tiny-on-a-long-day"]
    )
    assert "91.87 %" in by_id["20261207-010505-tiny"]
    (comparison,) = [line for run_id, line in by_id.items() if run_id.endswith("-compare")]
    assert "completed" in comparison and "93.2 ± 0.3" in comparison  # the leader, nll: 93.0 and 93.4 %


def test_runs_drops_the_extra_columns_before_the_ones_that_matter(runs_root):
    narrow = invoke(60, "runs", "--runs", str(runs_root))[0]
    wide = invoke(160, "runs", "--runs", str(runs_root))[0]
    assert "started" in wide and "threads" in wide and "best val" in wide
    assert "threads" not in narrow and "started" not in narrow


@pytest.mark.parametrize("width", [60, 80])
def test_compare_leaderboard_keeps_rank_variant_accuracy_and_verdict(runs_root, width):
    folder = next(p for p in runs_root.iterdir() if p.name.endswith("-compare"))
    lines = invoke(width, "compare", str(folder), "--headless")
    assert_fits(lines, width)
    text = "\n".join(lines)
    assert "verdict" in text and "mean ± sd" in text
    row = next(line for line in lines if "mse" in line and "±" in line)
    assert row.split()[:2] == ["3", "mse"] and "91.20 ± 0.28" in row
    assert "not distinguishable" in text or "worse" in text  # mse's verdict, whole words


def test_presets_fit_the_terminal():
    for width in (60, 80):
        assert_fits(invoke(width, "presets"), width)


def test_the_headless_report_fits_the_terminal(headless_run):
    lines, _ = headless_run
    report = lines[next(i for i, line in enumerate(lines) if line.startswith("Test loss")) :]
    # Everything fits but the command to copy, which stays one line; log lines fold between
    # their fields (each whole), the report is laid out to the width.
    assert_fits([line for line in lines if not line.startswith("Reproduce with")], 60)
    epoch = lines.index(next(line for line in lines if line.startswith("epoch 1/1")))
    assert re.search(r"val loss \d\.\d{4} acc \d+\.\d\d %", " ".join(lines[epoch : epoch + 3]))
    assert any(re.fullmatch(r"  run directory: \S+", line) for line in lines)  # a field moved whole
    assert "Per-class test accuracy" in report and any("Misclassified test images" in line for line in report)


@pytest.mark.parametrize("width", [60, 80])
def test_weights_fit_the_terminal(headless_run, width):
    _, run_dir = headless_run
    lines = invoke(width, "weights", str(run_dir))
    assert_fits(lines, width)
    assert lines[0].startswith(f"run {run_dir}") and "unit 15" in "\n".join(lines)


@pytest.mark.parametrize("width", [60, 80])
def test_data_fits_the_terminal(mnist_root, width):
    lines = invoke(width, "data", "--data-dir", str(mnist_root))
    assert_fits(lines, width)
    assert lines[0].startswith("MNIST: ")


def test_compare_screen_at_80_columns_shows_rank_variant_accuracy_and_verdict(runs_root):
    import asyncio

    from mlp_tui.runs.compare.board import Board
    from mlp_tui.views.tui.app import create_app
    from mlp_tui.views.tui.widgets.leaderboard import Leaderboard
    from test_compare_tui import open_compare

    folder = next(p for p in runs_root.iterdir() if p.name.endswith("-compare"))

    async def scenario() -> None:
        app = create_app(runs_root=runs_root, compare=Board(_plan(folder), folder))
        async with app.run_test(size=(80, 24)) as pilot:
            table = (await open_compare(pilot, app)).query_one(Leaderboard)
            await pilot.pause()
            assert [str(c.label) for c in table.columns.values()][:4] == ["#", "variant", "test acc %", "verdict"]
            assert table.virtual_size.width <= table.scrollable_content_region.width  # no column off screen
            rows = [[cell.plain for cell in table.get_row_at(i)[:4]] for i in range(table.row_count)]
            assert rows[0] == ["=1", "━ nll", "93.20 ± 0.28", "leader"]
            assert rows[2][1:3] == ["━ mse", "91.20 ± 0.28"] and rows[2][3].startswith(("worse", "not disting"))

    asyncio.run(scenario())


def _plan(folder: Path) -> Plan:
    from mlp_tui.runs.compare.plan import PLAN_FILE, read_plan

    return read_plan(folder / PLAN_FILE)
