"""What the command-line parser refuses (a value that is not a number, a wrong choice, an unknown
option, a missing value or argument) reads like every other mlp-tui message: one line,
`mlp-tui: error: ...`, naming the option and what it takes, exit 2 — not Typer's usage block."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from mlp_tui.cli.main import app

OPTIMIZERS = "sgd, momentum, nesterov, adam, adamw, rmsprop, adagrad, adadelta"


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "--optimizer", "sdg"], ["option --optimizer", "'sdg'", "did you mean 'sgd'?", OPTIMIZERS]),
        (["run", "--epochs", "x"], ["option --epochs", "'x' is not an integer", "expected an integer"]),
        (["run", "--lr", "abc"], ["option --lr", "'abc' is not a number", "expected a number > 0"]),
        (["run", "--epochs"], ["option --epochs", "needs a value", "expected an integer"]),
        (["run", "--optimizer"], ["option --optimizer", "needs a value", OPTIMIZERS]),
        (["run", "--epoch", "3"], ["unknown option --epoch", "did you mean '--epochs'?", "mlp-tui run --help"]),
        (["run", "extra"], ["unexpected argument(s): extra", "takes no arguments"]),
        (["run", "--headless=yes"], ["option --headless", "takes no value"]),
        (["compare", "--seeds", "x"], ["option --seeds", "'x' is not an integer"]),
        (["compare", "--jobs", "0"], ["option --jobs", "0 is out of range", "an integer >= 1"]),
        (["compare", "--activation", "relx"], ["option --activation", "did you mean 'relu'?", "relu, sigmoid, tanh"]),
        (["compare", "--vary"], ["option --vary", "needs a value", "mlp-tui compare --help"]),
        (["data", "-n", "x"], ["option --count/-n", "'x' is not an integer", "1..10000"]),
        (["data", "--dataset", "fashion"], ["option --dataset", "mnist, fashion-mnist, kmnist"]),
        (["eval"], ["missing argument RUN", "a run directory", "mlp-tui eval --help"]),
        (["eval", "latest", "extra"], ["unexpected argument(s): extra", "takes RUN"]),
        (["predict", "latest"], ["missing argument IMAGE", "mlp-tui predict --help"]),
        (["weights", "latest", "--page", "x"], ["option --page", "'x' is not an integer", "an integer >= 1"]),
        (["watch", "--runs"], ["option --runs", "needs a value", "a path"]),
        (["rn"], ["unknown command 'rn'", "did you mean 'run'?", "commands: presets, run, compare"]),
        (["--bogus"], ["unknown option --bogus", "mlp-tui --help"]),
    ],
)
def test_the_parser_refuses_in_mlp_tui_words(tmp_path, args, expected):
    result = CliRunner().invoke(app, [*args], prog_name="mlp-tui")
    output = result.output
    assert result.exit_code == 2, output
    assert output.startswith("mlp-tui: error: ") and output.count("\n") == 1, output
    for text in expected:
        assert text in output, output
    for typer_style in ("Traceback", "Usage:", "Error:", "Invalid value", "╭", "│ Error"):
        assert typer_style not in output, output


def test_a_real_process_prints_the_one_line_to_stderr_only(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "mlp_tui", "run", "--optimizer", "adamm", "--runs", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (
        "mlp-tui: error: option --optimizer: unknown value 'adamm' (did you mean 'adam'?); "
        f"expected one of {OPTIMIZERS}\n"
    )
    assert not (tmp_path / "runs").exists()


def test_help_and_good_choices_in_any_case_still_work():
    runner = CliRunner()
    assert "--optimizer <sgd|momentum|" in " ".join(runner.invoke(app, ["run", "--help"]).output.split())
    result = runner.invoke(app, ["run", "--optimizer", "SGD", "--epochs", "x"], prog_name="mlp-tui")
    assert "option --epochs" in result.output and "--optimizer" not in result.output  # SGD was taken
