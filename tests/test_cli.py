"""The command line turns bad input into one clear line and exit code 2, never a traceback."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import must_search
from mlp_tui.cli.main import app

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
    output = assert_usage_error(invoke("run", "--preset", "tiny", "--headless", "--runs", str(tmp_path), flag, value))
    assert f"option {flag}: unknown value {value!r}" in output  # the words a preset's bad value gets
    assert f"expected one of {', '.join(choices)}" in output


def test_run_help_lists_the_choices_of_every_choice_option():
    from mlp_tui.core.config import OPTIONS

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
        [sys.executable, "-c", "import sys; sys.argv[0] = 'mlp-tui'; from mlp_tui.cli.main import main; main()"],
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
        invoke(
            "run",
            "--preset",
            "tiny",
            "--headless",
            "--data-dir",
            str(tmp_path / "data"),
            "--runs",
            str(tmp_path / "runs"),
        )
    )
    assert str(damaged) in output
    assert "truncated" in output


def test_without_a_terminal_the_app_is_refused_and_run_goes_headless(mnist_root, tmp_path):
    """nohup, pipes and log files cannot show the app: say so rather than paint escape codes."""
    from typer.testing import CliRunner

    from mlp_tui.cli.main import app

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


# -- presets, datasets and a suggested learning rate, as a user meets them -----------------------


def test_presets_fit_an_80_column_terminal(cli_env, mlp_tui_cmd):
    proc = subprocess.run([*mlp_tui_cmd, "presets"], env=dict(cli_env, COLUMNS="80"), capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    for name in ("tiny", "dropout", "best"):
        assert any(line.startswith(name) for line in lines), name
    expected = [line for line in lines if line.lstrip().startswith("expect ")]
    assert len(expected) == 7 and all(" ± " in line for line in expected), "every built-in preset, with its spread"


def test_a_new_optimizer_gets_its_suggested_lr_and_the_header_says_so(mnist_root, tmp_path):
    """Adadelta at Adam's 0.001 reaches about 20 % after an epoch; at its own 1.0, over 85 %."""
    result = invoke("run", "--preset", "tiny", "--headless", "--optimizer", "adadelta", "--epochs", "1",
                    "--data-dir", str(mnist_root), "--runs", str(tmp_path))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "optimizer adadelta  lr 1 (suggested for adadelta)" in result.output
    accuracy = float(must_search(r"test accuracy ([\d.]+) %", result.output).group(1))
    assert accuracy > 85, result.output
    assert "--optimizer adadelta --epochs 1" in result.output and "--lr" not in result.output.split("Reproduce")[1]


def _noisy_fashion(tmp_path, idx_dataset) -> Path:
    """A Fashion-MNIST-shaped folder with data hard enough to leave some mistakes."""
    idx_dataset(tmp_path / "data", "fashion-mnist", n_train=1500, n_test=400, gzipped=True, noise=420.0)
    return tmp_path / "data"


def test_fashion_mnist_tables_and_mistakes_use_its_class_names(tmp_path, idx_dataset):
    data = _noisy_fashion(tmp_path, idx_dataset)
    result = invoke("run", "--preset", "tiny", "--headless", "--dataset", "fashion-mnist", "--epochs", "2",
                    "--data-dir", str(data), "--runs", str(tmp_path / "runs"))  # fmt: skip
    out = result.output
    assert result.exit_code == 0, out
    assert "data: Fashion-MNIST, 1,350 train / 150 validation / 400 test images" in out
    table = out[out.index("Per-class test accuracy") : out.index("Confusion matrix")]
    for digit, name in ((0, "T-shirt/top"), (1, "Trouser"), (2, "Pullover"), (7, "Sneaker"), (9, "Ankle boot")):
        assert re.search(rf"^{digit} {re.escape(name)} +\d+\.\d\d %", table, re.M), name
    assert re.search(r"^7 Sneaker +\d+ +\d+", out[out.index("Confusion matrix") :], re.M)
    labels = re.findall(r"([A-Z][\w/ -]+?) \(true: ([A-Z][\w/ -]+?)\) \d+ %", out)
    assert labels and all(a != b for a, b in labels), out
    (run_dir,) = (tmp_path / "runs").iterdir()
    report = (run_dir / "report.txt").read_text()
    assert "9 Ankle boot" in report and "(true: " in report
    assert 'dataset = "fashion-mnist"' in (run_dir / "config.toml").read_text()
    assert " tiny on fashion-mnist " in invoke("runs", "--runs", str(tmp_path / "runs")).output


def test_a_run_trains_on_hand_regzipped_copies_of_mnist(mnist_root, tmp_path):
    """gzip archives made by hand differ from the published ones byte for byte (and by
    checksum); their content is what counts."""
    import gzip

    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):  # fmt: skip
        (raw / f"{name}.gz").write_bytes(gzip.compress((mnist_root / "MNIST" / "raw" / name).read_bytes(), 1))
    result = invoke("run", "--preset", "tiny", "--headless", "--epochs", "1", "--subset", "3000",
                    "--data-dir", str(tmp_path / "data"), "--runs", str(tmp_path / "runs"))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "data: MNIST, 3,000 train / 6,000 validation / 10,000 test images" in result.output
    assert float(must_search(r"test accuracy ([\d.]+) %", result.output).group(1)) > 60  # chance: 10 %


@pytest.mark.parametrize(
    "name, content, problem",
    [
        ("train-labels-idx1-ubyte", b"\x00\x00\x08\x01" + (40).to_bytes(4, "big") + bytes([3] * 39 + [12]),
         "label value: label 12 (item 39) is outside the class range 0-9"),
        ("train-images-idx3-ubyte", b"\x00\x00\x08\x03" + b"".join(d.to_bytes(4, "big") for d in (40, 29, 28))
         + bytes(40 * 29 * 28), "image size: 29x28 pixels, expected 28x28"),
        ("t10k-images-idx3-ubyte.gz", None, "gzip archive: cut short"),
    ],
)  # fmt: skip
def test_bad_data_exits_2_naming_the_file(tmp_path, idx_dataset, name, content, problem):
    import gzip

    raw = idx_dataset(tmp_path / "data", "mnist", n_train=40, n_test=40)
    plain = raw / name.removesuffix(".gz")
    if content is None:  # the archive of a good file, cut short
        content = gzip.compress(plain.read_bytes())[:-300]
    plain.unlink()
    (raw / name).write_bytes(content)
    output = assert_usage_error(invoke("run", "--preset", "tiny", "--headless", "--data-dir", str(tmp_path / "data"),
                                       "--runs", str(tmp_path / "runs")))  # fmt: skip
    assert output.startswith(f"mlp-tui: error: {raw / name}: {problem}"), output
    assert not (tmp_path / "runs").exists()
