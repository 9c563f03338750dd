"""`mlp-tui runs`, `eval` and `predict` on a real (one-epoch, 5000-image) run, and the
MNIST-style preparation of user images in digit_input."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner, Result

from conftest import must_search
from mlp_tui.cli.main import app
from mlp_tui.engine.digit_input import ImageError, grey_from_array, load_digit, mnist_like

REPO = Path(__file__).resolve().parents[1]
ESC = "\x1b"
runner = CliRunner()


def invoke(*args: object) -> Result:
    result = runner.invoke(app, [str(a) for a in args])
    # typer.Exit ends as SystemExit; anything else means an exception escaped the command.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def assert_usage_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("mlp-tui: error: "), result.output
    return result.output


def child_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES")}
    env["MLP_TUI_PRESETS"] = str(tmp / "presets")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_root):
    """One real run, made once: `mlp-tui run --preset tiny --headless --epochs 1 --subset 5000`."""
    tmp = tmp_path_factory.mktemp("inspect")
    root = tmp / "runs"
    proc = subprocess.run(
        [sys.executable, "-m", "mlp_tui", "run", "--preset", "tiny", "--headless", "--epochs", "1",
         "--subset", "5000", "--device", "cpu", "--runs", str(root), "--data-dir", str(mnist_root)],
        env=child_env(tmp), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run_dir,) = [p for p in root.iterdir() if p.is_dir()]
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    finished = next(r for r in records if r["event"] == "run_finished")
    return root, run_dir, finished


@pytest.fixture(scope="module")
def test_digit(trained, mnist_root):
    """(28x28 uint8 image, true label) of a test digit the trained model gets right with confidence."""
    from torchvision.datasets import MNIST

    from mlp_tui.runs.evaluate import load_run, predict

    test = MNIST(root=str(mnist_root), train=False, download=False)
    loaded = load_run(trained[1], "cpu")
    for i in range(200):
        image, label = test.data[i].numpy(), int(test.targets[i])
        probs = predict(loaded, image.tobytes())
        if int(np.argmax(probs)) == label and max(probs) > 0.9:
            return image, label
    pytest.fail("the trained model got none of the first 200 test digits right with confidence")


# -- runs --------------------------------------------------------------------------------


def test_runs_lists_the_run_with_status_and_test_accuracy(trained):
    root, run_dir, finished = trained
    result = runner.invoke(app, ["runs", "--runs", str(root)], env={"COLUMNS": "120"})  # room for every column
    assert result.exit_code == 0, result.output
    assert ESC not in result.output  # not a terminal: plain text
    header, row = result.output.splitlines()
    assert header.split()[:4] == ["id", "preset", "status", "epochs"]
    assert row.startswith(run_dir.name)
    assert " tiny " in row and " completed " in row and " 1/1 " in row
    assert f"{finished['test_accuracy'] * 100:.2f} %" in row
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d$", row)


def test_runs_in_an_empty_or_missing_folder_says_there_are_none(tmp_path):
    (tmp_path / "empty").mkdir()
    for root in (tmp_path / "empty", tmp_path / "absent"):
        result = invoke("runs", "--runs", root)
        assert result.exit_code == 0
        assert result.output.startswith(f"No runs in {root}")
        assert "mlp-tui run" in result.output


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_runs_on_a_terminal_draws_a_rich_table(trained, tmp_path):
    import fcntl
    import struct
    import termios

    root, run_dir, _ = trained
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    env = child_env(tmp_path) | {"TERM": "xterm-256color"}
    proc = subprocess.Popen([sys.executable, "-m", "mlp_tui", "runs", "--runs", str(root)],
                            stdin=slave, stdout=slave, stderr=slave, env=env)  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    output = b"".join(chunks).decode("utf-8", "replace")
    assert ESC in output  # styled
    assert run_dir.name in output and "completed" in output


# -- eval --------------------------------------------------------------------------------


def test_eval_latest_reproduces_the_recorded_test_accuracy(trained, mnist_root):
    root, run_dir, finished = trained
    result = invoke("eval", "latest", "--runs", root, "--data-dir", mnist_root)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith(f"run {run_dir}  checkpoint best.pt (epoch 1)  model 784-16-10")
    assert f"test accuracy {finished['test_accuracy'] * 100:.2f} %" in out
    class_rows = re.findall(r"^\d +\d+\.\d\d %   +\d+/\d+$", out, re.M)
    assert len(class_rows) == 10
    assert "Confusion matrix" in out and "Misclassified test images" in out
    art = [line for line in out.splitlines() if re.search(r"[█▀▄@#%]{3}", line)]
    assert len(art) >= 5, out


def test_one_truth_for_test_accuracy_recorded_reported_listed_and_evaluated(trained, mnist_root):
    """The run's own record, report.txt, `runs` and `eval` of best.pt print the same number."""
    root, run_dir, finished = trained
    recorded = f"{finished['test_accuracy'] * 100:.2f} %"
    report = (run_dir / "report.txt").read_text()
    assert must_search(r"test accuracy ([\d.]+ %)", report).group(1) == recorded
    listed = invoke("runs", "--runs", root).output.splitlines()[1]
    assert re.findall(r"\d+\.\d\d %", listed)[-1] == recorded
    evaluated = invoke("eval", run_dir, "--data-dir", mnist_root).output
    assert must_search(r"test accuracy ([\d.]+ %)", evaluated).group(1) == recorded
    assert f"The same as the run recorded ({recorded}" in evaluated
    # Exactly, not only to two decimals: the same function, batches and weights.
    from mlp_tui.runs.evaluate import evaluate_run, load_run

    finished_again, _ = evaluate_run(load_run(run_dir, "cpu"), mnist_root)
    assert finished_again.test_accuracy == finished["test_accuracy"]
    assert finished_again.test_loss == pytest.approx(finished["test_loss"], rel=1e-6)


def test_eval_says_when_and_why_its_number_differs_from_the_recorded_one(trained, mnist_root, tmp_path):
    run_dir = shutil.copytree(trained[1], tmp_path / "copy")
    metrics = run_dir / "metrics.jsonl"
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    records[-1]["test_accuracy"] = 0.5  # as if the weights had changed since
    metrics.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = invoke("eval", run_dir, "--data-dir", mnist_root).output
    assert "The run recorded 50.00 %: best.pt has changed since" in out
    records[0]["device"] = "CUDA NVIDIA H100 80GB HBM3"  # as if it had trained and tested on a GPU
    metrics.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = invoke("eval", run_dir, "--data-dir", mnist_root).output
    assert "The run recorded 50.00 %, tested on CUDA NVIDIA H100 80GB HBM3; this test ran on CPU" in out
    assert "--device" in out


def test_eval_falls_back_to_last_pt_with_a_note(trained, mnist_root, tmp_path):
    run_dir = shutil.copytree(trained[1], tmp_path / "copy")
    (run_dir / "best.pt").unlink()
    result = invoke("eval", run_dir, "--data-dir", mnist_root, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "no best.pt; using last.pt" in result.output
    assert "checkpoint last.pt" in result.output and "test accuracy" in result.output


def test_eval_of_a_missing_run_exits_2_without_a_traceback(trained, tmp_path):
    output = assert_usage_error(invoke("eval", "no-such-run", "--runs", trained[0]))
    assert "no-such-run" in output and "mlp-tui runs" in output
    output = assert_usage_error(invoke("eval", "latest", "--runs", tmp_path))
    assert "no runs" in output


def test_eval_of_weights_that_do_not_fit_their_config_names_both_architectures(trained, tmp_path):
    run_dir = shutil.copytree(trained[1], tmp_path / "edited")
    checkpoint = torch.load(run_dir / "best.pt", weights_only=True)
    checkpoint["config"]["hidden"] = [32]
    torch.save(checkpoint, run_dir / "best.pt")
    output = assert_usage_error(invoke("eval", run_dir, "--device", "cpu"))
    assert "784-16-10" in output and "784-32-10" in output
    assert "size mismatch" not in output and "best.pt" in output


def test_eval_with_an_unknown_device_exits_2(trained):
    output = assert_usage_error(invoke("eval", "latest", "--runs", trained[0], "--device", "gpu"))
    assert "--device" in output and "'gpu'" in output


# -- predict -----------------------------------------------------------------------------


def predicted(output: str) -> int:
    found = re.search(r"^prediction: (\d) \((\d+\.\d) %\)$", output, re.M)
    assert found, output
    return int(found.group(1))


def test_predict_reads_a_real_test_digit_from_npy(trained, test_digit, tmp_path):
    image, label = test_digit
    np.save(tmp_path / "digit.npy", image)
    result = invoke("predict", "latest", tmp_path / "digit.npy", "--runs", trained[0], "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert predicted(result.output) == label
    bars = re.findall(r"^.*\b(\d) \S*\s* +\d+\.\d%( <)?$", result.output, re.M)
    assert [b[0] for b in bars] == [str(c) for c in range(10)]
    assert [b[0] for b in bars if b[1]] == [str(label)]
    assert sum(bool(re.search(r"[█▀▄@#%]", line[:28])) for line in result.output.splitlines()) >= 5


def test_predict_reads_the_same_digit_as_a_large_inverted_png(trained, test_digit, tmp_path):
    image, label = test_digit
    big = np.kron(255 - image, np.ones((3, 3), dtype=np.uint8))  # dark ink on white, 84x84
    Image.fromarray(big).save(tmp_path / "digit.png")
    result = invoke("predict", "latest", tmp_path / "digit.png", "--runs", trained[0], "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "light background, inverted" in result.output
    assert predicted(result.output) == label


def test_predict_on_a_blank_image_exits_2(trained, tmp_path):
    Image.fromarray(np.full((40, 30), 255, dtype=np.uint8)).save(tmp_path / "blank.png")
    output = assert_usage_error(invoke("predict", "latest", tmp_path / "blank.png", "--runs", trained[0]))
    assert "blank.png" in output and "blank" in output.split("blank.png", 1)[1]


def test_predict_on_a_text_file_or_a_missing_file_exits_2_naming_it(trained, tmp_path):
    (tmp_path / "x.png").write_text("not a picture\n")
    output = assert_usage_error(invoke("predict", "latest", tmp_path / "x.png", "--runs", trained[0]))
    assert str(tmp_path / "x.png") in output and "not an image" in output
    output = assert_usage_error(invoke("predict", "latest", tmp_path / "gone.npy", "--runs", trained[0]))
    assert str(tmp_path / "gone.npy") in output and "no such file" in output


# -- digit_input -------------------------------------------------------------------------


def pixels(digit) -> np.ndarray:
    return np.frombuffer(digit.pixels, dtype=np.uint8).reshape(28, 28)


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(a.shape)
    return float((ys * a).sum() / a.sum()), float((xs * a).sum() / a.sum())


def test_an_mnist_digit_comes_back_almost_unchanged(mnist_root):
    from torchvision.datasets import MNIST

    images = MNIST(root=str(mnist_root), train=False, download=False).data[:50].numpy()
    diffs = [np.abs(pixels(mnist_like(img)).astype(float) - img).mean() for img in images]
    assert np.mean(diffs) < 2.0  # of 255


def test_a_stroke_anywhere_is_scaled_to_20px_and_centred_by_mass():
    image = np.full((120, 90), 230.0)  # light paper
    image[10:70, 60:75] = 20.0  # a dark bar, 60 tall and 15 wide, near a corner
    digit = mnist_like(image)
    out = pixels(digit)
    rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    assert digit.inverted and digit.box == (60, 15)
    assert rows[-1] - rows[0] + 1 == 20 and cols[-1] - cols[0] + 1 in (5, 6, 7)
    cy, cx = centre_of_mass(out.astype(float))
    assert abs(cy - 14) <= 0.6 and abs(cx - 14) <= 0.6
    assert out.max() == 255


@pytest.mark.parametrize(
    "array, brightest",
    [
        (np.eye(20, dtype=bool), 255),
        (np.eye(20, dtype=np.float32), 255),  # 0..1 floats
        (np.eye(20, dtype=np.uint16) * 60000, 255),  # stretched from its range
        (np.eye(20, dtype=np.int64) * 200, 200),  # already 0..255: kept
        (np.eye(20, dtype=np.float64) * 100, 100),
        (np.repeat((np.eye(20) * 255)[..., None], 3, axis=2), 255),  # RGB
        (
            np.concatenate([np.repeat((np.eye(20) * 255)[..., None], 3, axis=2), np.full((20, 20, 1), 255.0)], axis=2),
            255,
        ),  # RGBA
        ((np.eye(20) * 255)[..., None], 255),  # one channel
    ],
)
def test_numeric_arrays_of_any_kind_become_grey_0_to_255(array, brightest):
    grey = grey_from_array(array)
    assert grey.shape == (20, 20)
    assert grey.min() == 0 and grey.max() == pytest.approx(brightest, abs=0.01)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((2, 3, 4, 5)), "expected a 2-D image"),
        (np.zeros((10, 10, 2)), "expected a 2-D image"),
        (np.array([["a", "b"]]), "expected numbers"),
        (np.full((5, 5), np.nan), "NaN"),
    ],
)
def test_arrays_that_are_not_images_are_refused(array, message):
    with pytest.raises(ImageError, match=message):
        grey_from_array(array)


def test_black_ink_on_a_transparent_png_reads_like_on_white_paper(tmp_path):
    rgba = np.zeros((60, 60, 4), dtype=np.uint8)  # transparent everywhere...
    rgba[10:50, 25:35] = (0, 0, 0, 255)  # ...but an opaque black bar
    Image.fromarray(rgba).save(tmp_path / "ink.png")
    digit = load_digit(tmp_path / "ink.png")
    assert digit.inverted and digit.box == (40, 10)
    assert pixels(digit).max() == 255


def test_unreadable_inputs_name_the_file(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(ImageError, match=r"obj\.npy: not a readable NumPy"):
        load_digit(tmp_path / "obj.npy")
    with pytest.raises(ImageError, match=r"folder.* is a directory"):
        (tmp_path / "folder").mkdir()
        load_digit(tmp_path / "folder")
    np.save(tmp_path / "flat.npy", np.full((28, 28), 7, dtype=np.uint8))
    with pytest.raises(ImageError, match=r"flat\.npy: the image is blank"):
        load_digit(tmp_path / "flat.npy")


def test_runs_never_loads_torch_and_evaluate_loads_no_ui_library(trained, tmp_path):
    code = (
        "import sys\n"
        "from mlp_tui.cli.main import app\n"
        f"app(['runs', '--runs', {str(trained[0])!r}], standalone_mode=False)\n"
        "print('LOADED:', sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'torchvision', 'textual'}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=child_env(tmp_path), capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert trained[1].name in proc.stdout and proc.stdout.splitlines()[-1] == "LOADED: []"
    code = (
        "import sys, mlp_tui.runs.evaluate, mlp_tui.engine.digit_input\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=child_env(tmp_path), capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not set(json.loads(proc.stdout.replace("'", '"'))) & {"textual", "rich", "textual_plotext", "plotext"}
