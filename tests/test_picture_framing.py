"""`predict` and the Draw tab prepare a picture the way the run's dataset was made: MNIST's digits
(and KMNIST's kana) scaled into a 20 px box and centred by mass; Fashion-MNIST's products trimmed
and scaled to fill the 28x28 frame, light backgrounds inverted."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from mlp_tui.core.datasets import IDX_FILES, dataset_info
from mlp_tui.engine.digit_input import ImageError, load_digit, mnist_like, prepare
from mlp_tui.runs.weights import drawing_pixels

FOOTWEAR = {"Sandal", "Sneaker", "Ankle boot"}


def pixels(digit) -> np.ndarray:
    return np.frombuffer(digit.pixels, dtype=np.uint8).reshape(28, 28)


def extent(image: np.ndarray) -> tuple[int, int, int, int]:
    """First and last lit row, first and last lit column."""
    rows, cols = np.flatnonzero(image.any(1)), np.flatnonzero(image.any(0))
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def write_shoe(path: Path) -> Path:
    """A dark, wide, low shape (a shoe's side view) on a white 400x300 photo."""
    picture = Image.new("L", (400, 300), 255)
    ImageDraw.Draw(picture).polygon([(60, 120), (120, 110), (200, 170), (340, 180), (350, 220), (60, 220)], fill=40)
    picture.save(path)
    return path


@pytest.fixture
def fashion_root(mnist_root) -> Path:
    raw = mnist_root / dataset_info("fashion-mnist").raw_folder
    if not all((raw / name).is_file() or (raw / f"{name}.gz").is_file() for name in IDX_FILES):
        pytest.skip(f"real Fashion-MNIST not found in {raw}")
    return mnist_root


def test_a_shoe_photo_for_fashion_mnist_fills_the_frame_bright_on_black(tmp_path):
    shoe = load_digit(write_shoe(tmp_path / "shoe.png"), "fill")
    out = pixels(shoe)
    top, bottom, left, right = extent(out)
    assert (left, right) == (0, 27)  # the longer side spans the frame, no 20 px margin
    assert 8 <= bottom - top + 1 <= 13  # the aspect kept: 111 of 291 px tall
    assert abs((top + bottom) / 2 - 13.5) <= 1  # centred by its box
    assert out.max() == 255 and out[top : bottom + 1].mean() > 60  # the object bright...
    assert out[0].mean() < 10 and out[-1].mean() < 10  # ...on a dark background
    assert shoe.inverted and shoe.box == (111, 291)
    assert shoe.describe() == "400x300 px, light background, inverted, object 291x111 px scaled to fill 28x28"


def test_the_same_photo_prepared_the_mnist_way_fits_a_20px_box(tmp_path):
    digit = load_digit(write_shoe(tmp_path / "shoe.png"))
    top, bottom, left, right = extent(pixels(digit))
    assert right - left + 1 == 20 and bottom - top + 1 < 20
    assert digit.describe().endswith("ink 291x111 px scaled to fit 20x20, centred in 28x28")


def test_a_handwritten_digit_prepared_the_box_way_is_as_before(tmp_path):
    image = np.full((120, 90), 235.0)  # light paper
    image[20:95, 40:52] = 30.0  # a dark "1"...
    image[20:30, 28:44] = 30.0  # ...with its flag
    Image.fromarray(image.astype(np.uint8)).save(tmp_path / "one.png")
    before = mnist_like(image)
    assert prepare(image, "box") == before
    assert load_digit(tmp_path / "one.png", "box") == load_digit(tmp_path / "one.png") == before


def test_fashion_mnist_pictures_come_back_almost_unchanged(fashion_root):
    from mlp_tui.engine.data import load_test_split

    x, _ = load_test_split("fashion-mnist", fashion_root, device=torch.device("cpu"))
    images = x[:100].numpy().reshape(-1, 28, 28).astype(float)
    assert np.mean([np.abs(pixels(prepare(image, "fill")) - image).mean() for image in images]) < 4.0  # of 255


def test_a_blank_picture_for_fashion_mnist_names_the_file(tmp_path):
    Image.new("L", (50, 40), 250).save(tmp_path / "white.png")
    with pytest.raises(ImageError, match=r"white\.png: the image is blank: no object found"):
        load_digit(tmp_path / "white.png", "fill")


def test_a_drawing_for_a_fashion_run_is_framed_as_fashion_mnist():
    drawing = [0.0] * 784
    for r in range(10, 14):
        for c in range(8, 18):
            drawing[r * 28 + c] = 1.0
    filled = np.frombuffer(drawing_pixels(drawing, "fill") or b"", dtype=np.uint8).reshape(28, 28)
    boxed = np.frombuffer(drawing_pixels(drawing) or b"", dtype=np.uint8).reshape(28, 28)
    assert extent(filled)[2:] == (0, 27)
    assert extent(boxed)[3] - extent(boxed)[2] + 1 == 20


def predicted(output: str) -> str:
    found = re.search(r"^prediction: \d (.+) \(\d+\.\d %\)$", output, re.M)
    assert found, output
    return found.group(1)


def footwear_photo(run_dir: Path, data_root: Path, path: Path) -> Path:
    """A Fashion-MNIST test sandal the run reads as footwear, as a photo: dark on white, 10x larger."""
    from mlp_tui.engine.data import load_test_split
    from mlp_tui.runs.evaluate import load_run, predict

    loaded = load_run(run_dir, "cpu")
    x, y = load_test_split("fashion-mnist", data_root, device=torch.device("cpu"))
    classes = dataset_info("fashion-mnist").classes
    for i in np.flatnonzero(y.numpy() == classes.index("Sandal"))[:20]:
        image = x[i].numpy().reshape(28, 28)
        if classes[int(np.argmax(predict(loaded, image.tobytes())))] in FOOTWEAR:
            photo = Image.new("L", (400, 360), 255)
            photo.paste(Image.fromarray(255 - image).resize((280, 280), Image.Resampling.LANCZOS), (70, 40))
            photo.save(path)
            return path
    pytest.fail("the run read none of the first 20 test sandals as footwear")


def test_predict_on_a_fashion_mnist_run_fills_the_frame(fashion_root, tmp_path, cli_env, mlp_tui_cmd):
    run_dir = tmp_path / "run"
    trained = subprocess.run([*mlp_tui_cmd, "run", "--preset", "tiny", "--dataset", "fashion-mnist", "--epochs", "2",
                              "--subset", "10000", "--headless", "--device", "cpu", "--data-dir", str(fashion_root),
                              "--run-dir", str(run_dir)],
                             env=cli_env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert trained.returncode == 0, trained.stdout + trained.stderr
    shoe = write_shoe(tmp_path / "shoe.png")
    for picture in (shoe, footwear_photo(run_dir, fashion_root, tmp_path / "sandal.png")):
        proc = subprocess.run([*mlp_tui_cmd, "predict", str(run_dir), str(picture), "--device", "cpu"], env=cli_env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert re.search(rf"^input {re.escape(str(picture))}: .*light background, inverted, object \d+x\d+ px "
                         r"scaled to fill 28x28$", proc.stdout, re.M), proc.stdout  # fmt: skip
    assert predicted(proc.stdout) in FOOTWEAR  # the sandal photo, prepared as Fashion-MNIST was made
