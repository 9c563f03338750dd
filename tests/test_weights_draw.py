"""What the first layer learned (pictures of its weights: renderer, `mlp-tui weights`, the Weights
view) and the Draw pad (paint a digit, see the model's probabilities), as a user meets them."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from typer.testing import CliRunner

from conftest import wait_until
from mlp_tui.cli.main import app as cli_app
from mlp_tui.text.render import (
    NEGATIVE_MARKS,
    POSITIVE_MARKS,
    wants_colour,
    weight_grid_lines,
    weight_grid_text,
    weight_lines,
    weight_runs,
    weight_text,
)  # fmt: skip

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


# -- the renderer ----------------------------------------------------------------------------------


def colours(style: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(foreground, background) RGB of a half block's style."""
    found = [tuple(int(v) for v in m) for m in re.findall(r"rgb\((\d+),(\d+),(\d+)\)", style)]
    assert len(found) == 2, style
    return found[0], found[1]


def cells(values) -> list[list[tuple[tuple[int, ...], tuple[int, ...]]]]:
    """Each line's cells as (upper pixel colour, lower pixel colour), runs expanded."""
    return [[colours(style) for text, style in line for _ in text] for line in weight_runs(values)]


def is_blue(rgb) -> bool:
    return rgb[2] > 100 and rgb[2] > 2 * rgb[0]


def is_red(rgb) -> bool:
    return rgb[0] > 100 and rgb[0] > 2 * rgb[2]


def test_a_picture_is_14_rows_of_28_half_blocks_blue_for_positive_red_for_negative():
    # upper pixel of every cell positive, lower negative: blue on red, everywhere
    values = ([0.5] * 28 + [-0.5] * 28) * 14
    grid = cells(values)
    assert len(grid) == 14 and all(len(row) == 28 for row in grid)
    assert all(is_blue(top) and is_red(bottom) for row in grid for top, bottom in row)
    text = weight_text(values)
    assert text.plain.split("\n") == ["▀" * 28] * 14
    # a Rich Text the app can show: its spans carry the same colours
    runs = {colours(style) for line in weight_runs(values) for _, style in line}
    assert {colours(str(span.style)) for span in text.spans} == runs


def test_weights_near_zero_are_dark_and_larger_ones_brighter():
    values = [0.0] * 784
    values[0], values[1], values[2] = 1.0, 0.3, -1.0
    (first, second, third), rest = cells(values)[0][:3], cells(values)[1:]
    assert first[0][2] > second[0][2] > 0  # brighter blue for a larger weight
    assert is_red(third[0])
    assert all(top == bottom == (0, 0, 0) for row in rest for top, bottom in row)


def test_each_picture_is_scaled_by_its_own_largest_weight_unless_asked_to_share():
    small, large = [0.01] * 784, [1.0] * 784
    lines = weight_grid_text([(small, "unit 0", False), (large, "unit 1", False)], 80)

    def brightest(line: Text, lo: int, hi: int) -> int:
        return max(colours(str(s.style))[0][2] for s in line.spans if lo <= s.start < hi)

    assert brightest(lines[0], 0, 28) == brightest(lines[0], 30, 58)  # both full blue, each by its own max
    shared = weight_grid_text([(small, "unit 0", False), (large, "unit 1", False)], 80, per_picture=False)
    assert brightest(shared[0], 0, 28) < brightest(shared[0], 30, 58) / 4


def test_without_colour_pictures_are_characters_with_the_sign_in_the_mark():
    values = ([1.0] * 14 + [-1.0] * 14) * 28
    lines = weight_lines(values)
    assert len(lines) == 14 and all(len(line) == 28 and line.isascii() for line in lines)
    assert all(line == POSITIVE_MARKS[-1] * 14 + NEGATIVE_MARKS[-1] * 14 for line in lines)
    assert weight_lines([0.0] * 784) == [" " * 28] * 14
    faint = [0.0] * 784
    faint[0], faint[1] = 0.3, -1.0
    assert weight_lines(faint)[0][0] in POSITIVE_MARKS[1:-1]  # weaker: a lighter mark


def test_a_grid_labels_every_picture_and_marks_dead_units():
    pictures = [([float(i % 7 - 3)] * 784, f"unit {i}" + (" dead" if i == 2 else ""), i == 2) for i in range(5)]
    plain = weight_grid_lines(pictures, width=100)
    # 3 pictures fit in 100 columns (28 + 2 each): two rows of pictures, each 14 lines and a label
    assert len(plain) == 30
    assert re.findall(r"unit \d+", plain[14]) == ["unit 0", "unit 1", "unit 2"]
    assert "unit 2 dead" in plain[14] and re.findall(r"unit \d+", plain[29]) == ["unit 3", "unit 4"]
    coloured = weight_grid_text(pictures, width=100)
    label = coloured[14]
    dead_style = next(str(s.style) for s in label.spans if label.plain[s.start : s.end].startswith("unit 2"))
    assert "red" in dead_style

    def brightest(line: Text) -> int:
        return max(max(colours(str(s.style))[0]) for s in line.spans)

    values = pictures[2][0]
    dead, live = weight_grid_text([(values, "", True)], 100)[0], weight_grid_text([(values, "", False)], 100)[0]
    assert brightest(dead) < brightest(live) / 2  # a dead unit's picture is dimmed


@pytest.mark.parametrize("size", [0, 783, 785])
def test_a_picture_needs_784_weights(size):
    with pytest.raises(ValueError, match="784 values"):
        weight_lines([0.0] * size)


def test_no_color_and_pipes_get_no_colour(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert wants_colour(Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not wants_colour(Tty())
    monkeypatch.delenv("NO_COLOR")
    assert not wants_colour(open(os.devnull, "w"))


# -- real runs -------------------------------------------------------------------------------------


def train(mnist_root: Path, run_dir: Path, presets: Path, *flags: str) -> Path:
    env = dict(os.environ, PYTHONPATH=str(REPO), MLP_TUI_PRESETS=str(presets))
    for key in ("NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "mlp_tui", "run", "--preset", "tiny", "--headless", "--run-dir", str(run_dir),
           "--data-dir", str(mnist_root), *flags]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return run_dir


@pytest.fixture(scope="module")
def tiny_run(mnist_root, tmp_path_factory) -> Path:
    """784-16-10 trained a little on real MNIST (about 90 % on the test set)."""
    root = tmp_path_factory.mktemp("weights-runs")
    return train(mnist_root, root / "tiny", tmp_path_factory.mktemp("presets"), "--epochs", "2", "--subset", "10000")


@pytest.fixture(scope="module")
def linear_run(mnist_root, tmp_path_factory) -> Path:
    """784-10: no hidden layer."""
    root = tmp_path_factory.mktemp("weights-runs")
    return train(mnist_root, root / "linear", tmp_path_factory.mktemp("presets"), "--epochs", "1", "--subset", "3000",
                 "--hidden", "")  # fmt: skip


def invoke(*args: str, columns: int = 100):
    return runner.invoke(cli_app, ["weights", *args], env={"COLUMNS": str(columns), "NO_COLOR": None})


def test_weights_prints_the_16_hidden_units_with_their_numbers(tiny_run):
    result = invoke(str(tiny_run))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "784-16-10" in lines[0] and "best.pt" in lines[0]
    legend = next(line for line in lines if "positive" in line)  # the caption above may take two lines
    assert "negative" in legend
    labels = [int(n) for n in re.findall(r"\bunit (\d+)", result.output)]
    assert labels == list(range(16))
    # every picture is 14 lines of 28 characters above its label
    label_rows = [i for i, line in enumerate(lines) if line.startswith("unit ")]
    assert len(label_rows) == 6  # 3 pictures per row in 100 columns
    for row in label_rows:
        art = lines[row - 14 : row]
        assert all(len(line) <= 88 for line in art) and sum(bool(line[:28].strip()) for line in art) >= 10
    assert "dead units" in result.output  # measured by the run (or said not to be)


def test_weights_pages(tiny_run):
    result = invoke(str(tiny_run), "--per-page", "4", "--page", "2")
    assert result.exit_code == 0, result.output
    assert [int(n) for n in re.findall(r"\bunit (\d+)", result.output)] == [4, 5, 6, 7]
    assert "page 2 of 4" in result.output and "--page 3" in result.output
    beyond = invoke(str(tiny_run), "--per-page", "4", "--page", "5")
    assert beyond.exit_code == 2 and "4 page(s)" in beyond.output


def test_a_linear_model_shows_the_ten_class_templates(linear_run):
    result = invoke(str(linear_run), columns=200)
    assert result.exit_code == 0, result.output
    assert "784-10" in result.output and "template" in result.output
    assert "unit" not in result.output.split("\n\n", 1)[1]
    label_lines = [line for line in result.output.splitlines() if re.fullmatch(r"[0-9](\s+[0-9])*", line)]
    assert [int(d) for line in label_lines for d in line.split()] == list(range(10))


def test_weights_of_a_missing_run_exits_2(tmp_path):
    result = invoke("no-such-run", "--runs", str(tmp_path))
    assert result.exit_code == 2
    assert "no run at 'no-such-run'" in result.output and "Traceback" not in result.output


def test_weights_on_a_colour_terminal_prints_blue_and_red_half_blocks(tiny_run, monkeypatch):
    import mlp_tui.text.render

    monkeypatch.setattr(mlp_tui.text.render, "wants_colour", lambda stream=None: True)
    result = runner.invoke(cli_app, ["weights", str(tiny_run), "--per-page", "3"],
                           env={"COLUMNS": "100", "NO_COLOR": None, "COLORTERM": "truecolor"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "blue positive, red negative" in result.output
    colours_used = {tuple(int(v) for v in m) for m in re.findall(r"\x1b\[38;2;(\d+);(\d+);(\d+)", result.output)}
    assert any(is_blue(c) for c in colours_used) and any(is_red(c) for c in colours_used)
    assert result.output.count("▀") == 3 * 28 * 14


def test_weights_in_a_real_process_without_a_terminal_prints_plain_characters(tiny_run, cli_env, mlp_tui_cmd):
    proc = subprocess.run([*mlp_tui_cmd, "weights", str(tiny_run), "--per-page", "2"], env=cli_env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[" not in proc.stdout and "unit 0" in proc.stdout and "unit 1" in proc.stdout
    lines = proc.stdout.splitlines()
    first = lines.index("") + 1  # the pictures, under the captions (as many lines as the width needs)
    assert set("".join(lines[first : first + 14])) <= set(POSITIVE_MARKS + NEGATIVE_MARKS)


# -- which checkpoint, which units are dead ----------------------------------------------------------


def test_the_newest_checkpoint_is_last_while_training_and_best_once_ended(tiny_run, tmp_path):
    from mlp_tui.runs.weights import newest_checkpoint, read_first_layer

    run = tmp_path / "run"
    run.mkdir()
    for name in ("best.pt", "last.pt", "config.toml"):
        shutil.copy(tiny_run / name, run / name)
    lines = (tiny_run / "metrics.jsonl").read_text().splitlines()
    ended = [i for i, line in enumerate(lines) if '"run_finished"' in line][-1]
    (run / "metrics.jsonl").write_text("\n".join(lines[:ended]) + "\n")  # still training
    assert newest_checkpoint(run).name == "last.pt"
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    assert newest_checkpoint(run).name == "best.pt"
    layer = read_first_layer(run)
    assert layer.count == 16 and all(len(unit) == 784 for unit in layer.units) and not layer.templates


def test_dead_units_come_from_the_runs_layer_health_events(tiny_run, tmp_path):
    from mlp_tui.runs.weights import read_first_layer

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(tiny_run / "best.pt", run / "best.pt")

    def health(epoch: int, dead: list[int]) -> dict[str, Any]:
        return {"event": "layer_health", "epoch": epoch, "layers": [
            {"layer": 1, "units": 16, "dead": len(dead) / 16, "saturated": None, "act_mean": 1.0, "act_std": 1.0,
             "weight_norm": 1.0, "grad_norm": 1.0, "update_ratio": 1e-3, "dead_units": dead}]}  # fmt: skip

    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in (health(1, [3, 5]), health(2, [5]))) + "\n")
    layer = read_first_layer(run)  # best.pt is epoch 2: the units dead then
    assert layer.dead == {5} and layer.dead_epoch == 2
    assert layer.label(5) == "unit 5 dead" and layer.label(3) == "unit 3"
    (run / "metrics.jsonl").write_text("")  # an older run: no statistics
    layer = read_first_layer(run)
    assert layer.dead is None and "not measured" in layer.dead_note()


# -- the widgets -------------------------------------------------------------------------------------


def host(widget):
    from textual.app import App

    class Host(App):
        def compose(self):
            yield widget

    return Host()


def shown(view) -> str:
    return "\n".join(view.render_line(y).text for y in range(view.content_size.height))


def test_weights_view_pages_and_rereads_when_an_epoch_ends(tiny_run, linear_run, tmp_path):
    from mlp_tui.views.tui.widgets.weights_view import WeightsView

    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(tiny_run / "best.pt", run / "last.pt")

    async def scenario() -> None:
        view = WeightsView(run)
        app = host(view)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: "unit 0" in shown(view))
            text = shown(view)
            assert "784-16-10" in text and "units 0-7 of 16" in text and "page 1/2" in text
            assert re.findall(r"unit (\d+)", text) == [str(i) for i in range(8)]
            view.focus()
            await pilot.press("full_stop")
            await wait_until(pilot, lambda: "units 8-15" in shown(view))
            assert "unit 15" in shown(view)
            await pilot.press("comma")
            await wait_until(pilot, lambda: "units 0-7" in shown(view))
            # a newer checkpoint (here: another model) is read when told an epoch ended
            shutil.copy(linear_run / "best.pt", run / "last.pt")
            os.utime(run / "last.pt", ns=(time.time_ns(), time.time_ns() + 10**9))
            view.epoch_ended()
            await wait_until(pilot, lambda: "class templates" in shown(view))
            assert "784-10" in shown(view)

    asyncio.run(scenario())


def test_weights_view_without_colour_draws_characters(tiny_run, monkeypatch):
    from mlp_tui.views.tui.widgets.weights_view import WeightsView

    monkeypatch.setenv("NO_COLOR", "1")

    async def scenario() -> None:
        view = WeightsView(tiny_run)
        app = host(view)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: "unit 0" in shown(view))
            art = shown(view).splitlines()[2:16]
            assert "▀" not in "".join(art)
            assert set("".join(line[1:29] for line in art)) <= set(POSITIVE_MARKS + NEGATIVE_MARKS)

    asyncio.run(scenario())


def test_weights_view_says_when_there_is_no_checkpoint_yet(tmp_path):
    from mlp_tui.views.tui.widgets.weights_view import WeightsView

    async def scenario() -> None:
        view = WeightsView(tmp_path)
        app = host(view)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: "No checkpoint yet" in shown(view))

    asyncio.run(scenario())


def bars_text(pad) -> str:
    import io

    from rich.console import Console

    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(pad.query_one("#draw-bars").content)
    return console.export_text()


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
def test_draw_a_one_with_keys_and_mouse_and_clear_it(tiny_run, size):
    from mlp_tui.views.tui.widgets.draw_pad import DrawCanvas, DrawPad

    async def scenario() -> None:
        pad = DrawPad(tiny_run)
        app = host(pad)
        async with app.run_test(size=size) as pilot:
            await wait_until(pilot, lambda: pad.model is not None)
            canvas = pad.query_one(DrawCanvas)
            assert canvas.region.right <= size[0] and canvas.region.bottom <= size[1]
            bars = pad.query_one("#draw-bars")
            assert bars_text(pad).strip() == ""

            # keyboard: up to the top, paint, then shift+down paints a vertical stroke
            canvas.focus()
            await pilot.press(*["up"] * 10, "space", *["shift+down"] * 20)
            await wait_until(pilot, lambda: pad.prediction is not None)
            assert sum(canvas.pixels) > 20
            await wait_until(pilot, lambda: pad.prediction == 1)
            lines = [line for line in bars_text(pad).splitlines() if "%" in line]
            assert len(lines) == 10 and [line.split()[0] for line in lines] == [str(c) for c in range(10)]
            assert "█" in lines[1]  # the bar of the 1
            assert bars.region.bottom <= size[1]

            await pilot.press("c")
            await wait_until(pilot, lambda: pad.prediction is None)
            assert sum(canvas.pixels) == 0 and bars_text(pad).strip() == ""

            # mouse: press near the top, drag down, let go
            await pilot.mouse_down(canvas, offset=(15, 3))
            for y in range(3, 14):
                await pilot.hover(canvas, offset=(15, y))
            await pilot.mouse_up(canvas, offset=(15, 13))
            await wait_until(pilot, lambda: pad.prediction == 1)
            column = [canvas.pixels[r * 28 + 14] for r in range(28)]
            assert max(column[6:25]) == 1.0 and min(column[6:25]) > 0.5  # a stroke down the middle
            await pilot.press("c")
            await wait_until(pilot, lambda: pad.prediction is None)

            # a click paints a soft dab where it lands: offset (8, 6) is inside the frame at column 7,
            # line 5 (pixel rows 10 and 11)
            await pilot.click(canvas, offset=(8, 6))
            assert canvas.pixels[10 * 28 + 7] == canvas.pixels[11 * 28 + 7] == 1.0
            assert 0 < canvas.pixels[10 * 28 + 9] < 0.5 and canvas.pixels[10 * 28 + 12] == 0

    asyncio.run(scenario())


MNIST_SAMPLES = 8  # the first test images, labels 7 2 1 0 4 1 4 9


def mnist_test_images(mnist_root: Path, count: int) -> tuple[list[bytes], list[int]]:
    import torch

    from mlp_tui.engine.data import load_test_split

    x, y = load_test_split("mnist", mnist_root, device=torch.device("cpu"))
    return [bytes(x[i].to(torch.uint8).flatten().tolist()) for i in range(count)], [int(v) for v in y[:count]]


def test_mnist_test_digits_drawn_on_the_pad_are_read_as_their_labels(tiny_run, mnist_root):
    from mlp_tui.views.tui.widgets.draw_pad import DrawCanvas, DrawPad

    images, labels = mnist_test_images(mnist_root, MNIST_SAMPLES)

    async def scenario() -> None:
        pad = DrawPad(tiny_run)
        app = host(pad)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: pad.model is not None)
            canvas = pad.query_one(DrawCanvas)
            read = []
            for pixels in images:
                canvas.set_pixels(pixels)
                pad.probabilities = None
                await wait_until(pilot, lambda: pad.prediction is not None)
                read.append(pad.prediction)
            assert read == labels

    asyncio.run(scenario())


def test_drawings_are_prepared_like_mnist_before_the_model_reads_them(tiny_run, mnist_root):
    """Re-centring and re-scaling an MNIST digit keeps it what it was: the pad reads 100 test
    digits about as well as the run's own test accuracy (about 90 %)."""
    from mlp_tui.runs.weights import drawing_pixels, load_draw_model

    model = load_draw_model(tiny_run)
    images, labels = mnist_test_images(mnist_root, 100)
    right = 0
    for pixels, label in zip(images, labels, strict=True):
        drawn = drawing_pixels([v / 255 for v in pixels])
        assert drawn is not None
        probabilities = model.predict(drawn)
        right += max(range(10), key=probabilities.__getitem__) == label
    assert right >= 85
    # a digit drawn small in a corner is moved to the centre and scaled up to the 20x20 box
    small = [0.0] * 784
    for r in range(2, 9):
        small[r * 28 + 3] = 1.0
    prepared = drawing_pixels(small)
    assert prepared is not None
    rows = [r for r in range(28) if any(prepared[r * 28 : (r + 1) * 28])]
    assert len(rows) >= 19 and 3 <= rows[0] <= 5
    assert drawing_pixels([0.0] * 784) is None
