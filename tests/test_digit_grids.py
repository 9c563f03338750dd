"""Digits as the network sees them and pages of predictions: the vectorised renderer, the training
batch (engine/sample.py), `mlp-tui data`, the Data, Predictions and Mistakes grids in the app,
and ctrl+s (a picture of the screen, saved beside the run), as a user meets them."""

from __future__ import annotations

import asyncio
import gc
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from textual.widgets import Input

from conftest import FakeRun, must_search, screen_lines, style_of, wait_until
from mlp_tui.core.config import RunConfig
from mlp_tui.core.datasets import dataset_info
from mlp_tui.core.events import Evaluation, Misclassified, RunStarted
from mlp_tui.engine.augment import augment_batch
from mlp_tui.engine.data import load_dataset, load_train_split
from mlp_tui.engine.sample import sample_batch
from mlp_tui.text.render import ASCII_RAMP, digit_lines
from mlp_tui.views.console.digit_art import GREY_LEVELS, grey_art, grid_lines, grid_runs, plain_art
from mlp_tui.views.tui.app import create_app
from mlp_tui.views.tui.screens.data import DataScreen
from mlp_tui.views.tui.screens.setup import SetupScreen
from mlp_tui.views.tui.screens.training import TrainingScreen
from mlp_tui.views.tui.widgets import digit_grid
from mlp_tui.views.tui.widgets.data_view import DataView
from mlp_tui.views.tui.widgets.gallery import MistakeGallery
from mlp_tui.views.tui.widgets.predictions_view import PredictionsView

SIZES = [(120, 40), (80, 24)]
CPU = torch.device("cpu")


def random_images(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 784), generator=g, dtype=torch.uint8)
    images[::3] = (images[::3] > 128).to(torch.uint8) * 255  # some with sharp edges: half blocks
    return images


# -- the renderer ------------------------------------------------------------------------------------


@pytest.mark.parametrize("ascii", [False, True])
def test_a_batch_rendered_at_once_matches_the_one_digit_renderer(ascii):
    images = random_images(40)
    arts = plain_art(images, ascii)
    assert len(arts) == 40
    for image, art in zip(images, arts, strict=True):
        assert art == digit_lines(bytes(image.tolist()), ascii)
    if ascii:
        assert set("".join(line for art in arts for line in art)) <= set(ASCII_RAMP)


def test_grey_half_blocks_keep_each_pixels_shade_and_merge_equal_neighbours():
    images = random_images(3)
    images[2] = 0
    images[2, 28:56] = 255  # the second pixel row white: the first line is black over white
    arts = grey_art(images)
    for image, art in zip(images, arts, strict=True):
        pixels = image.view(28, 28).tolist()
        for line, runs in enumerate(art):
            cells = [style for text, style in runs for _ in text]
            assert "".join(text for text, _ in runs) == "▀" * 28
            for col, style in enumerate(cells):
                top, bottom = (int(v) for v in re.findall(r"rgb\((\d+),\1,\1\)", style))
                for shown, pixel in ((top, pixels[2 * line][col]), (bottom, pixels[2 * line + 1][col])):
                    assert abs(shown - pixel) <= 256 // GREY_LEVELS + 1
    first, rest = arts[2][0], arts[2][1:]
    assert len(first) == 1 and "rgb(0,0,0) on rgb(255,255,255)" in first[0][1]  # one run for the line
    assert all(len(line) == 1 and line[0][1] == "rgb(0,0,0) on rgb(0,0,0)" for line in rest)


def test_a_grid_puts_captions_under_and_bars_beside_each_digit():
    images = random_images(5)
    captions = [[[(f"label {i}", "bold")], [(f"second {i}", "")]] for i in range(5)]
    lines = grid_runs(images, captions, width=100)
    text = ["".join(t for t, _ in line) for line in lines]
    assert len(text) == 2 * (14 + 2)  # 3 digits fit in 100 columns: two rows
    assert re.findall(r"label \d", text[14]) == ["label 0", "label 1", "label 2"]
    assert text[14].index("label 1") == 30 and text[15].index("second 1") == 30
    bars = [[[(f"{c} {'#' * c}", "")] for c in range(10)] for _ in range(5)]
    wide = ["".join(t for t, _ in line) for line in grid_runs(images, captions, 100, bars=bars)]
    assert re.findall(r"label \d", wide[14]) == ["label 0", "label 1"]  # bars beside: two a row
    assert wide[2].startswith(wide[2][:28]) and wide[2][29:].startswith("0 ")  # centred: class 0 on line 2


def test_plain_grid_lines_drop_margins_blank_in_every_digit():
    images = torch.zeros(2, 784, dtype=torch.uint8)
    images[:, 10 * 28 : 16 * 28] = 255  # ink on pixel rows 10-15 only: lines 5-7
    lines = grid_lines(images, [["a"], ["b"]], width=80)
    assert lines == ["█" * 28 + "  " + "█" * 28] * 3 + ["a" + " " * 29 + "b", ""]


# -- the batch the network receives --------------------------------------------------------------------


def test_the_data_view_reads_the_images_the_run_trains_on(idx_dataset, tmp_path):
    idx_dataset(tmp_path, "mnist", n_train=500, n_test=100)
    x, y = load_train_split("mnist", tmp_path, val_split=0.2, seed=3, subset=300)
    data = load_dataset("mnist", tmp_path, val_split=0.2, seed=3, device=CPU, subset=300)  # as the trainer loads it
    assert len(x) == 300 and torch.equal(x, data.train_x) and torch.equal(y, data.train_y)


def test_a_sample_is_distorted_as_training_distorts_and_keeps_its_labels():
    images = random_images(50, seed=1)
    labels = torch.arange(50) % 10
    plain = sample_batch(images, labels, 20, augment=0.0, elastic=0.0, generator=torch.Generator().manual_seed(0))
    assert not plain.distorted and torch.equal(plain.seen, plain.raw)
    for i in range(20):  # every image comes with its own label
        j = next(j for j in range(50) if torch.equal(images[j], plain.raw[i]))
        assert plain.labels[i] == labels[j]

    batch = sample_batch(images, labels, 20, augment=1.0, elastic=2.0, generator=torch.Generator().manual_seed(0))
    again = sample_batch(images, labels, 20, augment=1.0, elastic=2.0, generator=torch.Generator().manual_seed(0))
    other = sample_batch(images, labels, 20, augment=1.0, elastic=2.0, generator=torch.Generator().manual_seed(1))
    assert batch.distorted and batch.seen.dtype == torch.uint8
    assert torch.equal(batch.raw, plain.raw) and torch.equal(batch.labels, plain.labels)  # the same images
    assert (batch.seen != batch.raw).any(1).float().mean() > 0.9  # nearly every one distorted
    assert torch.equal(batch.seen, again.seen) and not torch.equal(batch.seen, other.seen)  # the seed decides


def test_the_sample_is_what_augment_batch_gives_before_normalisation(mnist_root):
    """Distorted by the training step's own function: the same distortion drawn by the same
    numbers, on the 0..255 scale the model takes (its first act is to normalise)."""
    x, y = load_train_split("mnist", mnist_root, val_split=0.1, seed=0)
    batch = sample_batch(x, y, 64, augment=0.7, elastic=1.5, generator=torch.Generator().manual_seed(5))
    generator = torch.Generator().manual_seed(5)
    torch.randperm(len(x), generator=generator)  # the draw that picked the images
    expected = augment_batch(batch.raw, 0.7, 1.5, generator=generator)
    assert (batch.seen.float() - expected).abs().max() <= 0.5
    # ink moves about but stays: the distorted digits hold about as much of it as the raw ones
    ratio = batch.seen.float().sum() / batch.raw.float().sum()
    assert 0.8 < ratio < 1.2


# -- mlp-tui data ----------------------------------------------------------------------------------------


def data_cmd(cli_env, *args: str, columns: int = 100, **env) -> subprocess.CompletedProcess:
    environment = dict(cli_env, COLUMNS=str(columns), **env)
    return subprocess.run([sys.executable, "-m", "mlp_tui", "data", *args], env=environment,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def label_lines(text: str, pattern: str = r"\d") -> list[list[str]]:
    return [line.split() for line in text.splitlines() if re.fullmatch(rf"{pattern}(\s+{pattern})*", line)]


def test_data_prints_distorted_digits_with_their_labels(mnist_root, cli_env):
    distorted = data_cmd(cli_env, "--augment", "1", "--elastic", "2", "--data-dir", str(mnist_root))
    assert distorted.returncode == 0, distorted.stderr
    out = distorted.stdout
    assert "MNIST" in out and "before normalisation" in out
    assert "augment 1 (rotate ±15°, scale ±15 %, shift ±3 px), elastic 2 px" in " ".join(out.split())
    rows = label_lines(out)
    assert len(rows) == 4 and all(len(row) == 3 for row in rows)  # four rows of three in 100 columns
    art = [line for line in out.splitlines() if set(line) & set("░▒▓█▀▄")]
    assert len(art) >= 4 * 8 and max(len(line) for line in art) <= 100

    raw = data_cmd(cli_env, "--augment", "0", "--elastic", "0", "--data-dir", str(mnist_root))
    assert raw.returncode == 0 and "undistorted" in raw.stdout
    assert label_lines(raw.stdout) == rows  # the same images (the seed's), now undistorted
    assert [line for line in raw.stdout.splitlines() if set(line) & set("░▒▓█▀▄")] != art
    reseeded = data_cmd(cli_env, "--seed", "1", "--count", "5", "--data-dir", str(mnist_root))
    assert reseeded.returncode == 0 and sum(len(r) for r in label_lines(reseeded.stdout)) == 5
    assert label_lines(reseeded.stdout)[0] != rows[0]


def test_data_names_fashion_classes_and_falls_back_to_ascii(idx_dataset, tmp_path, cli_env):
    idx_dataset(tmp_path, "fashion-mnist", n_train=300, n_test=50)
    proc = data_cmd(cli_env, "--dataset", "fashion-mnist", "--data-dir", str(tmp_path), "-n", "6",
                    PYTHONIOENCODING="ascii")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.isascii() and "Fashion-MNIST" in proc.stdout
    names = [f"{i} {name}" for i, name in enumerate(dataset_info("fashion-mnist").classes)]
    items = [re.split(r"\s{2,}", line.strip()) for line in proc.stdout.splitlines() if line.strip()]
    labels = [label for row in items if all(item in names for item in row) for label in row]
    assert len(labels) == 6  # every image labelled with its class's name


@pytest.mark.parametrize("args, words", [
    (["--augment", "-1"], ["--augment", "out of range"]),
    (["--elastic", "9"], ["--elastic", "out of range"]),
    (["--dataset", "emnist"], ["--dataset", "emnist"]),
    (["--count", "0"], ["--count"]),
])  # fmt: skip
def test_data_refuses_bad_values_in_one_line(args, words, cli_env, mnist_root):
    proc = data_cmd(cli_env, *args, "--data-dir", str(mnist_root))
    assert proc.returncode == 2
    assert all(word in proc.stderr for word in words) and "Traceback" not in proc.stderr


def test_data_says_which_file_is_damaged(tmp_path, cli_env):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte").write_bytes(b"not an idx file")
    (raw / "train-labels-idx1-ubyte").write_bytes(b"nor this")
    proc = data_cmd(cli_env, "--data-dir", str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "train-" in proc.stderr and "Replace the file" in proc.stderr


# -- the app: a training screen fed by hand ----------------------------------------------------------------


def toasts(app) -> list[str]:
    from textual.widgets._toast import Toast

    return [str(toast.render()) for toast in app.screen.query(Toast)]


def is_green(style) -> bool:
    r, g, b = style.color.get_truecolor()
    return g > r + 40 and g > b


def is_red(style) -> bool:
    r, g, _b = style.color.get_truecolor()
    return r > g + 60 and r > 100


async def shown(pilot, grid) -> list[str]:
    """Wait until the grid has drawn the page asked for; the screen's lines then."""
    await wait_until(pilot, lambda: grid.drawn and grid.source is not None)
    await pilot.pause()
    return screen_lines(grid.app)


def started(run_dir: Path | str = "runs/test") -> RunStarted:
    return RunStarted(config={}, preset="tiny", device="cpu", summary="summary", parameters=1,
                      train_size=54_000, val_size=6_000, test_size=10_000, run_dir=str(run_dir))  # fmt: skip


@pytest.mark.parametrize("size", SIZES)
def test_data_tab_shows_the_batch_distorted_then_raw_then_a_fresh_one(size, mnist_root, tmp_path):
    config = RunConfig(hidden=(16,), augment=1.0, elastic=2.0, seed=4)

    async def scenario() -> None:
        app = create_app("tiny", data_dir=mnist_root, runs_root=tmp_path)
        async with app.run_test(size=size) as pilot:
            screen = TrainingScreen(config, "tiny", FakeRun(started()))
            await app.push_screen(screen)
            await pilot.press("9")
            view = screen.query_one(DataView)
            assert view.has_focus
            lines = await shown(pilot, view)
            text = "\n".join(lines)
            assert "distorted: augment 1 (rotate, scale, shift), elastic 2 px" in text
            labels = [line.split() for line in lines if re.fullmatch(r" \d(\s+\d)*\s*", line)]
            per_row = 4 if size[0] == 120 else 2
            assert labels and all(len(row) == per_row for row in labels)
            assert view.region.bottom <= size[1] - 1  # above the footer
            seen = [line for line in lines if "▀" in line]
            assert len(seen) == 14 * len(labels)  # the pictures, whole
            assert view.sample is not None and view.source is not None
            expected = [str(int(c)) for c in view.sample.labels[: per_row * len(labels)]]
            assert [d for row in labels for d in row] == expected
            distorted_pixels = view.source.images(0, 1).clone()

            await pilot.press("r")
            lines = await shown(pilot, view)
            assert "raw, as stored" in "\n".join(lines)
            assert [line.split() for line in lines if re.fullmatch(r" \d(\s+\d)*\s*", line)] == labels
            assert not torch.equal(view.source.images(0, 1), distorted_pixels)  # the same digit, undistorted
            assert torch.equal(view.source.images(0, 1), view.sample.raw[:1])

            first_labels = view.sample.labels.clone()
            await pilot.press("f")
            await wait_until(pilot, lambda: view.number == 2)
            await shown(pilot, view)
            # (cut off at 80 columns: the distortion comes first) 256 images, not a batch of them
            header = view.source.header()
            assert "a sample of 256 MNIST training images, batch size 128 (f: another sample)" in header
            assert "batch 1" not in header and "batch 2" not in header
            assert not torch.equal(view.sample.labels, first_labels)  # other images (256 labels alike: no chance)

    asyncio.run(scenario())


def test_setup_screen_shows_the_data_as_the_form_distorts_it(mnist_root, tmp_path):
    async def scenario() -> None:
        app = create_app("tiny", data_dir=mnist_root, runs_root=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            for key, text in (("augment", "0.8"), ("elastic", "1.5")):
                field = app.screen.query_one(f"#f-{key}", Input)
                field.focus()
                field.value = ""
                await pilot.press(*text)
            assert "Data" in "\n".join(screen_lines(app)[-1:])  # the key is in the footer
            await pilot.press("ctrl+t")
            await wait_until(pilot, lambda: isinstance(app.screen, DataScreen))
            view = app.screen.query_one(DataView)
            await shown(pilot, view)
            assert "augment 0.8 (rotate, scale, shift), elastic 1.5 px" in screen_lines(app)[0]
            assert view.sample is not None
            assert view.sample.distorted and (view.sample.seen != view.sample.raw).any(1).all()
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, SetupScreen))

    asyncio.run(scenario())


def mistakes(n: int) -> Evaluation:
    images = random_images(n, seed=2)
    wrong = tuple(
        Misclassified(index=i, pixels=bytes(images[i].tolist()), predicted=(i + 1) % 10, true=i % 10,
                      probabilities=tuple(0.82 if c == (i + 1) % 10 else 0.02 for c in range(10)))
        for i in range(n)
    )  # fmt: skip
    # 6,000 validation images, 253 wrong: the evaluation keeps the n most confident of them
    return Evaluation(
        split="val",
        epoch=3,
        loss=0.3,
        accuracy=0.9578,
        class_correct=(575,) * 7 + (574,) * 3,
        class_total=(600,) * 10,
        confusion=tuple(tuple(0 for _ in range(10)) for _ in range(10)),
        misclassified=wrong,
    )


@pytest.mark.parametrize("size", SIZES)
def test_mistakes_tab_shows_several_digits_at_once_with_bars_on_demand(size, tmp_path):
    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=size) as pilot:
            screen = TrainingScreen(RunConfig(hidden=(16,)), "tiny", FakeRun(started(), mistakes(20)))
            await app.push_screen(screen)
            await pilot.press("3")
            gallery = screen.query_one(MistakeGallery)
            await wait_until(pilot, lambda: gallery.evaluation is not None)
            lines = await shown(pilot, gallery)
            per_page = 8 if size[0] == 120 else 2
            marks = [line for line in lines if "✗" in line]
            # most confident first, as the evaluation lists them, row by row
            assert re.findall(r"✗ (\d) 82\.0%", "\n".join(marks)) == [str((i + 1) % 10) for i in range(per_page)]
            first = marks[0]
            assert "✗ 1 82.0%" in first and "true 0" in lines[lines.index(first) + 1]
            assert is_red(style_of(app, "✗ 1 82.0%")) and is_green(style_of(app, "true 0"))
            assert "20 most confident of 253 mistakes on the validation set, epoch 3" in lines[5]

            await pilot.press("right_square_bracket")  # [ and ] page, as . and , do
            await wait_until(pilot, lambda: gallery.first == per_page)
            lines = await shown(pilot, gallery)
            assert f"✗ {(per_page + 1) % 10} 82.0%" in "\n".join(lines)

            await pilot.press("b")
            lines = await shown(pilot, gallery)
            bars = [line for line in lines if re.search(r"\d+\.\d%", line) and "✗" not in line]
            assert len(bars) >= 10  # a line per class beside each digit
            assert all(line.rstrip().__len__() <= size[0] for line in lines)

    asyncio.run(scenario())


# -- the app: a real run's predictions ---------------------------------------------------------------------


def watch(run_dir: Path, mnist_root: Path):
    from mlp_tui.core.presets import load_preset_file

    config = load_preset_file(run_dir / "config.toml").config
    return create_app("tiny", config, data_dir=mnist_root, runs_root=run_dir.parent, watch=run_dir)


@pytest.mark.parametrize("size", SIZES)
def test_predictions_mark_right_in_green_and_wrong_in_red_and_filter(size, tiny_run, mnist_root):
    from mlp_tui.runs.status import summarize
    from mlp_tui.text.report import pct

    async def scenario() -> None:
        app = watch(tiny_run, mnist_root)
        async with app.run_test(size=size) as pilot:
            screen = app.screen
            await wait_until(pilot, lambda: screen.run.run_dir)
            await pilot.press("0")
            view = screen.query_one(PredictionsView)
            # a finished run: the test images (a watcher replays the run's end, then reads them)
            await wait_until(pilot, lambda: view.predictions is not None and view.predictions.split == "test")
            lines = await shown(pilot, view)
            text = "\n".join(lines)
            accuracy = pct(summarize(tiny_run).test_accuracy)
            assert f"all 10,000 test images, {accuracy} right · best.pt, epoch 2" in text  # as the run tested them
            # MNIST's first test images are 7 2 1 0 4 1 4 9 5 9, and this net reads most of them
            said = re.findall(r"([✓✗]) (\d) \d+\.\d%", text)
            per_page = 8 if size[0] == 120 else 2
            assert len(said) == per_page
            right = [(mark, digit) for mark, digit in said if mark == "✓"]
            assert [d for _, d in right] == [d for (_, d), t in zip(said, "7210414959", strict=False) if d == t]
            if right:
                assert is_green(style_of(app, f"✓ {right[0][1]}"))

            await pilot.press("w")  # the wrong ones only
            lines = await shown(pilot, view)
            text = "\n".join(lines)
            assert "the " in text and " wrong of 10,000 test images" in text
            assert "✓" not in text and text.count("✗") == per_page and text.count("true ") == per_page
            wrong = must_search(r"✗ \d \d+\.\d%", text).group(0)
            assert is_red(style_of(app, wrong))
            for i, line in enumerate(lines):
                if predicted := re.findall(r"✗ (\d)", line):
                    true = re.findall(r"true (\d)", lines[i + 1])
                    assert len(true) == len(predicted) and all(p != t for p, t in zip(predicted, true, strict=True))

            await pilot.press("w")  # class 0
            lines = await shown(pilot, view)
            text = "\n".join(lines)
            assert "class 0: 980 test images" in text
            assert set(re.findall(r"✓ (\d)", text)) <= {"0"} and set(re.findall(r"true (\d)", text)) <= {"0"}

            await pilot.press("b")  # each digit's probabilities, a bar a class, beside it
            lines = await shown(pilot, view)
            bars = [re.findall(r" (\d) [ █▏▎▍▌▋▊▉]{8} +(\d+\.\d)%", line) for line in lines]
            first = [found[0] for found in bars if found][:10]  # the first digit's (the lines beside it)
            assert [c for c, _ in first] == [str(c) for c in range(10)]
            assert 99 <= sum(float(p) for _, p in first) <= 101

    asyncio.run(scenario())


def test_predictions_wait_for_the_first_checkpoint(tmp_path):
    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = TrainingScreen(RunConfig(hidden=(16,)), "tiny", FakeRun(started(tmp_path)))
            await app.push_screen(screen)
            await pilot.press("0")
            await wait_until(pilot, lambda: "No checkpoint yet" in "\n".join(screen_lines(app)))

    asyncio.run(scenario())


def test_pages_are_drawn_off_the_ui_thread(tiny_run, mnist_root, monkeypatch):
    """A page is built on a worker thread, so keys never wait for one."""
    threads = []
    original = digit_grid.page_strips

    def recording(*args):
        threads.append(threading.current_thread() is threading.main_thread())
        return original(*args)

    monkeypatch.setattr(digit_grid, "page_strips", recording)

    async def scenario() -> None:
        app = watch(tiny_run, mnist_root)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: app.screen.run.run_dir)
            await pilot.press("0")
            view = app.screen.query_one(PredictionsView)
            await shown(pilot, view)
            for _ in range(5):
                await pilot.press("full_stop")
            await wait_until(pilot, lambda: view.first == 5 * view.per_page)
            await shown(pilot, view)

    asyncio.run(scenario())
    assert threads and not any(threads)
    # torch's objects no longer walked by every full garbage collection (0.1 s the UI thread waits)
    assert gc.get_freeze_count() > 100_000


# -- ctrl+s --------------------------------------------------------------------------------------------------


def test_ctrl_s_saves_the_screen_into_the_run_directory_and_says_where(tiny_run, mnist_root):
    async def scenario() -> list[Path]:
        app = watch(tiny_run, mnist_root)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await wait_until(pilot, lambda: app.screen.run.run_dir)
            await pilot.press("0")
            await shown(pilot, app.screen.query_one(PredictionsView))
            assert "^s Screenshot" in screen_lines(app)[-1]
            before = set(tiny_run.glob("*.svg"))
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: set(tiny_run.glob("*.svg")) - before)
            saved = sorted(set(tiny_run.glob("*.svg")) - before)
            await wait_until(pilot, lambda: any(str(saved[0]) in text for text in toasts(app)))  # says where
            return saved

    saved = asyncio.run(scenario())
    svg = saved[0].read_text()
    assert svg.lstrip().startswith("<svg") and "best.pt, epoch 2" in svg.replace("&#160;", " ")


def test_ctrl_s_before_a_run_saves_in_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path / "runs")
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: list(tmp_path.glob("screen-*.svg")))
            saved = next(tmp_path.glob("screen-*.svg"))
            await wait_until(pilot, lambda: any(saved.name in text and "no run directory yet" in text
                                                for text in toasts(app)))  # fmt: skip

    asyncio.run(scenario())


def test_ctrl_s_on_the_compare_screen_saves_into_the_comparison(tmp_path):
    from mlp_tui.runs.compare.board import Board
    from test_compare_tui import hand_made_comparison, open_compare

    folder, plan = hand_made_comparison(tmp_path)

    async def scenario() -> None:
        app = create_app(runs_root=tmp_path, compare=Board(plan, folder))
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await open_compare(pilot, app)
            await wait_until(pilot, lambda: "^s Screenshot" in screen_lines(app)[-1])  # once the footer is drawn
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: list(folder.glob("screen-*.svg")))
            saved = next(folder.glob("screen-*.svg"))
            await wait_until(pilot, lambda: any(str(saved) in text for text in toasts(app)))
            assert "loss=nll" in saved.read_text().replace("&#160;", " ")  # the leaderboard, in the picture

    asyncio.run(scenario())


def test_without_colour_digits_are_shade_characters_and_marks_still_say_it(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")

    async def scenario() -> None:
        app = create_app("tiny", runs_root=tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = TrainingScreen(RunConfig(hidden=(16,)), "tiny", FakeRun(started(), mistakes(4)))
            await app.push_screen(screen)
            await pilot.press("3")
            gallery = screen.query_one(MistakeGallery)
            await wait_until(pilot, lambda: gallery.evaluation is not None)
            lines = await shown(pilot, gallery)
            art = "".join(lines[6:20])
            assert set(art) & set("░▒▓") and set(art) <= set(" ░▒▓█▀▄")  # render.digit_lines' characters
            assert lines[6:20] != [lines[6]] * 14  # a picture, not half blocks all alike (the colour form)
            assert sum(line.count("✗") for line in lines) == 4

    asyncio.run(scenario())
