"""The command line turns bad input into one clear line and exit code 2, never a traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.error

import pytest
from typer.testing import CliRunner

from mlp_tui.cli import app

runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    # typer.Exit ends as SystemExit; anything else means an exception escaped the command.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def assert_usage_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("mlp-tui: error: ")
    return result.output


def test_bad_preset_file_exits_2_naming_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("hidden = [16]\nlrr = 0.01\n")
    output = assert_usage_error(invoke("run", "--preset", str(bad), "--headless", "--runs", str(tmp_path / "runs")))
    assert str(bad) in output
    assert "'lrr'" in output and "did you mean 'lr'?" in output
    assert not (tmp_path / "runs").exists(), "a run directory was made for a run that never started"


def test_bad_preset_file_in_a_real_process_prints_no_traceback(tmp_path, cli_env, mlp_tui_cmd):
    bad = tmp_path / "bad.toml"
    bad.write_text('epochs = "ten"\n')
    proc = subprocess.run(
        [*mlp_tui_cmd, "run", "--preset", "bad.toml", "--headless"],
        cwd=tmp_path,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "'epochs'" in proc.stderr and "'ten'" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--lr", "-1"], ["option --lr:", "-1.0 is out of range", "a number > 0"]),
        (["--hidden", "0"], ["option --hidden:", "hidden size 0", "1..16384"]),
        (["--hidden", "512,-3"], ["option --hidden:", "hidden size -3", "1..16384"]),
        (["--hidden", "512,,512"], ["option --hidden:", "'512,,512' has an empty item"]),
        (["--hidden", "512,"], ["option --hidden:", "empty item"]),
        (["--dropout", "1"], ["option --dropout:", "0 <= x < 1"]),
        (["--batch-size", "0"], ["option --batch-size:", "an integer >= 1"]),
    ],
)
def test_bad_flag_values_exit_2_with_a_clear_message(tmp_path, flags, expected):
    output = assert_usage_error(invoke("run", "--preset", "tiny", "--headless", "--runs", str(tmp_path), *flags))
    for text in expected:
        assert text in output
    assert not tmp_path.joinpath("runs").exists()


@pytest.mark.parametrize(
    "flag, value, choices",
    [
        ("--loss", "foo", ["nll", "cross-entropy", "mse"]),
        ("--optimizer", "adamm", ["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad", "adadelta"]),
        ("--dataset", "emnist", ["mnist", "fashion-mnist", "kmnist"]),
        ("--activation", "relux", ["relu", "sigmoid", "tanh"]),
    ],
)
def test_a_wrong_choice_exits_2_listing_the_choices(tmp_path, flag, value, choices):
    result = invoke("run", "--preset", "tiny", "--headless", "--runs", str(tmp_path), flag, value)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"Invalid value for '{flag}'" in result.output and repr(value) in result.output
    for choice in choices:
        assert repr(choice) in result.output


def test_run_help_lists_the_choices_of_every_choice_option():
    from mlp_tui.config import OPTIONS

    text = " ".join(invoke("run", "--help").output.split())
    for key, option in OPTIONS.items():
        if option.choices:
            assert "|".join(option.choices) in text, key
    assert "nll|cross-entropy|mse" in text and "adam|adamw|rmsprop|adagrad|adadelta" in text
    assert "--lr-suggested" not in text  # a record, not an option


def test_choices_are_offered_by_shell_completion(cli_env, mlp_tui_cmd):
    """What `mlp-tui --install-completion` installs asks the program itself for candidates."""
    env = dict(cli_env, _MLP_TUI_COMPLETE="complete_bash", COMP_WORDS="mlp-tui run --optimizer ad", COMP_CWORD="3")
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; sys.argv[0] = 'mlp-tui'; from mlp_tui.cli import main; main()"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert set(proc.stdout.split()) == {"adam", "adamw", "adagrad", "adadelta"}, proc.stdout + proc.stderr
    assert "--install-completion" in invoke("--help").output


def test_unknown_preset_name_exits_2_listing_the_presets(tmp_path):
    output = assert_usage_error(invoke("run", "--preset", "nosuch", "--headless", "--runs", str(tmp_path)))
    assert "unknown preset 'nosuch'" in output
    for name in ("tiny", "keras", "kaiming", "sequential", "sigmoid", "dropout"):
        assert name in output


def test_presets_command_lists_every_builtin():
    result = invoke("presets")
    assert result.exit_code == 0
    for name, arch in [("tiny", "784-16-10"), ("dropout", "784-512-512-10"), ("sequential", "784-128-64-10")]:
        assert any(line.startswith(name) and arch in line for line in result.output.splitlines()), name


def test_run_dir_that_already_holds_files_is_refused(tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "metrics.jsonl").write_text("{}\n")
    output = assert_usage_error(invoke("run", "--preset", "tiny", "--headless", "--run-dir", str(taken)))
    assert str(taken) in output and "already holds files" in output


# -- data problems reach the user as exit 2 ----------------------------------------------------


def test_missing_data_offline_exits_2_saying_where_to_put_the_files(tmp_path, monkeypatch):
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    empty = tmp_path / "data"
    empty.mkdir()
    output = assert_usage_error(
        invoke("run", "--preset", "tiny", "--headless", "--data-dir", str(empty), "--runs", str(tmp_path / "runs"))
    )
    assert "train-images-idx3-ubyte" in output and "t10k-labels-idx1-ubyte" in output
    assert "downloading train-images-idx3-ubyte.gz failed" in output and "Name or service not known" in output
    assert str(empty / "MNIST" / "raw") in output
    assert not (tmp_path / "runs").exists()


def test_truncated_data_file_exits_2_naming_the_file(tmp_path, mnist_root):
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).symlink_to(mnist_root / "MNIST" / "raw" / name)
    damaged = raw / "train-labels-idx1-ubyte"
    shutil.copyfile(mnist_root / "MNIST" / "raw" / damaged.name, damaged)
    with open(damaged, "r+b") as f:
        f.truncate(1000)
    output = assert_usage_error(
        invoke("run", "--preset", "tiny", "--headless", "--data-dir", str(tmp_path / "data"), "--runs", str(tmp_path / "runs"))
    )
    assert str(damaged) in output
    assert "truncated" in output


def test_without_a_terminal_the_app_is_refused_and_run_goes_headless(mnist_root, tmp_path):
    """nohup, pipes and log files cannot show the app: say so rather than paint escape codes."""
    from typer.testing import CliRunner

    from mlp_tui.cli import app

    runner = CliRunner()
    bare = runner.invoke(app, [])
    assert bare.exit_code == 2 and "needs a terminal" in bare.output
    run = runner.invoke(
        app,
        ["run", "--preset", "tiny", "--epochs", "1", "--subset", "2000", "--data-dir", str(mnist_root),
         "--runs", str(tmp_path)],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert "training headless" in run.output and "Per-class test accuracy" in run.output
