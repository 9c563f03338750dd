"""The engine never drags a UI library in, and the command line starts without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def modules_after_import(modules: list[str], cli_env) -> set[str]:
    code = (
        "import json, sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=cli_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout))


def top_level(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


def test_engine_side_imports_no_ui_library(cli_env):
    loaded = modules_after_import(
        [
            "mlp_tui.config", "mlp_tui.data", "mlp_tui.model", "mlp_tui.events", "mlp_tui.runs",
            "mlp_tui.engine", "mlp_tui.report", "mlp_tui.render", "mlp_tui.headless", "mlp_tui.runner",
            "mlp_tui.control", "mlp_tui.scoring", "mlp_tui.runinfo", "mlp_tui.child", "mlp_tui.follow",
            "mlp_tui.evaluate", "mlp_tui.digit_input", "mlp_tui.datasets", "mlp_tui.idx", "mlp_tui.augment",
            "mlp_tui.pixel_stats", "mlp_tui.preset_files",
        ],  # fmt: skip
        cli_env,
    )
    assert "mlp_tui.engine" in loaded and "torch" in top_level(loaded)
    assert not top_level(loaded) & {"textual", "rich", "textual_plotext", "plotext"}


def test_cli_imports_without_torch(cli_env):
    loaded = modules_after_import(["mlp_tui.cli"], cli_env)
    assert "mlp_tui.cli" in loaded
    assert not top_level(loaded) & {"torch", "torchvision", "textual"}


@pytest.mark.parametrize(
    "args, expected",
    [(["--help"], "presets"), (["presets"], "784-16-10"), (["run", "--help"], "--preset")],
)
def test_help_and_presets_never_load_torch(args, expected, cli_env):
    code = (
        "import sys\n"
        "from mlp_tui.cli import app\n"
        f"app({args!r}, standalone_mode=False)\n"
        "print('LOADED:', sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'torchvision', 'textual'}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=cli_env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert expected in proc.stdout
    assert proc.stdout.splitlines()[-1] == "LOADED: []"
