"""No colour and no UTF-8 are first-class: under a C locale every command prints ASCII only, and
without colour the charts tell their lines and marks apart by marker and say which is which."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import TextIO, cast

import pytest

from conftest import FakeRun, wait_until
from mlp_tui.core.config import RunConfig
from mlp_tui.core.events import BatchProgress, EpochEnd, Event, LrChanged, RunStarted
from mlp_tui.text import terminal
from mlp_tui.text.terminal import AsciiStream, ascii_only, asciify
from mlp_tui.views.tui.app import create_app
from mlp_tui.views.tui.screens.training import TrainingScreen
from mlp_tui.views.tui.widgets.chart import MetricChart

LOCALE = ("LC_ALL", "LC_CTYPE", "LANG", "MLP_TUI_ASCII", "PYTHONUTF8")


@pytest.fixture
def locale_env(monkeypatch):
    """A clean locale; Python's own start-up view of it (UTF-8 mode) taken as a UTF-8 one."""
    for key in LOCALE:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(terminal, "_python_saw_c_locale", lambda: False)

    def set_env(**values: str) -> bool:
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        return ascii_only()

    return set_env


@pytest.mark.parametrize(
    "env, ascii",
    [
        ({"LANG": "C"}, True),
        ({"LC_ALL": "C", "LANG": "en_US.UTF-8"}, True),  # LC_ALL wins
        ({"LANG": "en_US.UTF-8"}, False),
        ({"LANG": "en_US.ISO-8859-1"}, True),
        ({"LC_CTYPE": "C.UTF-8", "LANG": "C"}, False),  # LC_CTYPE before LANG
        ({"LANG": "POSIX"}, True),
        ({}, True),  # nothing set: the C locale
        ({"LANG": "en_US.UTF-8", "MLP_TUI_ASCII": "1"}, True),  # forced on
        ({"LANG": "C", "LC_ALL": "C", "MLP_TUI_ASCII": "0"}, False),  # forced off
    ],
)
def test_ascii_only_follows_the_locale_and_the_override(locale_env, env, ascii):
    assert locale_env(**env) is ascii


def test_python_turning_on_utf8_by_itself_still_means_a_c_locale(tmp_path):
    """LANG=C alone: Python coerces LC_CTYPE to C.UTF-8 and reports UTF-8; the mode stays ASCII."""
    env = {"LANG": "C", "PATH": "/usr/bin:/bin"}
    code = "from mlp_tui.text.terminal import ascii_only; print(ascii_only())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path,
                         check=True)  # fmt: skip
    assert out.stdout.strip() == "True", out.stderr


def test_asciify_keeps_widths_and_ascii():
    text = "✔ done · epoch 3/10 → ⣿⡀ ┌─┐ █▌░ ✗ …"
    plain = asciify(text)
    assert plain.isascii() and len(plain) == len(text)
    assert plain.startswith("+ done . epoch 3/10 > ")


def test_ascii_stream_is_all_click_and_rich_get(capsys):
    import click

    stream = AsciiStream(sys.stdout)
    click.echo("3 · ████ ✓", file=cast(TextIO, stream))  # duck-typed, as use_ascii_streams puts it in sys.stdout
    assert capsys.readouterr().out == "3 . #### +\n"


# -- the commands under LANG=C LC_ALL=C, piped ------------------------------------------------------


@pytest.fixture(scope="module")
def c_locale(mnist_root, tmp_path_factory):
    """A C locale's environment and one headless run trained in it: (env, runs folder, output)."""
    import os

    from conftest import REPO

    tmp = tmp_path_factory.mktemp("c-locale")
    env = {k: v for k, v in os.environ.items() if k not in (*LOCALE, "NO_COLOR", "COLUMNS", "LINES")}
    env.update(LANG="C", LC_ALL="C", MLP_TUI_PRESETS=str(tmp / "presets"), MLP_TUI_DATA=str(mnist_root),
               PYTHONPATH=str(REPO))  # fmt: skip
    runs = tmp / "runs"
    out = run_cli(env, "run", "--preset", "tiny", "--headless", "--epochs", "1", "--subset", "3000",
                  "--device", "cpu", "--runs", str(runs))  # fmt: skip
    return env, runs, out


def run_cli(env: dict, *args: str) -> bytes:
    argv = [sys.executable, "-m", "mlp_tui", *args]
    proc = subprocess.run(argv, env=env, capture_output=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.isascii(), proc.stderr
    return proc.stdout


def test_a_headless_run_in_a_c_locale_prints_ascii_only(c_locale):
    out = c_locale[2]
    assert out.isascii(), [line for line in out.splitlines() if not line.isascii()]
    assert b"Test loss" in out and b"Misclassified test images" in out
    assert b"@" in out  # its mistakes drawn with the ASCII ramp


@pytest.mark.parametrize("command", [("data", "-n", "2"), ("weights", "latest"), ("runs",), ("presets",)])
def test_commands_in_a_c_locale_print_ascii_only(c_locale, command):
    env, runs, _ = c_locale
    extra = ("--runs", str(runs)) if command[0] in ("weights", "runs") else ()
    out = run_cli(env, *command, *extra)
    assert out.strip() and out.isascii(), [line for line in out.splitlines() if not line.isascii()]


# -- the charts without colour ---------------------------------------------------------------------


def events() -> list[Event]:
    started = RunStarted(config={}, preset="tiny", device="cpu", summary="summary", parameters=1,
                         train_size=54_000, val_size=6_000, test_size=10_000, run_dir="runs/test")  # fmt: skip
    out: list[Event] = [started]
    for epoch, (train, val) in enumerate([(0.9, 0.6), (0.5, 0.4), (0.3, 0.45)], start=1):
        out.append(BatchProgress(epoch=epoch, epochs=5, batch=100, batches=100, loss=train, accuracy=0.9,
                                 samples_per_s=9000.0))  # fmt: skip
        out.append(EpochEnd(epoch=epoch, epochs=5, train_loss=train, train_accuracy=0.8 + epoch / 100,
                            val_loss=val, val_accuracy=0.85 + epoch / 100, lr=0.01, seconds=1.0,
                            samples_per_s=9000.0, is_best=epoch == 2))  # fmt: skip
        if epoch == 1:
            out.append(LrChanged(epoch=2, batch=50, lr=0.005, previous=0.01))
    return out


def legend_marks(text: str) -> dict[str, str]:
    """What the chart's legend shows before each series' name: {'train': '⢕⢕', ...}."""
    marks = {}
    for line in text.splitlines():
        for name in ("train", "val"):
            if f" {name}" in line and name not in marks:
                marks[name] = line.split(f" {name}")[0].split()[-1]
    return marks


def chart_texts(monkeypatch, **env: str) -> list[str]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    texts: list[str] = []

    async def scenario() -> None:
        app = create_app("tiny")
        async with app.run_test(size=(120, 40)) as pilot:
            screen = TrainingScreen(RunConfig(hidden=(16,), epochs=5), "tiny", FakeRun(*events()))
            await app.push_screen(screen)
            charts = [screen.query_one(f"#{name}-chart", MetricChart) for name in ("loss", "acc")]
            await wait_until(pilot, lambda: all(c.best_epoch == 2 and c.lr_marks for c in charts))
            await wait_until(pilot, lambda: all(len(c.points("val")) == 3 for c in charts))
            await pilot.pause()
            texts.extend(c.render().plain for c in charts)

    asyncio.run(scenario())
    return texts


def test_without_colour_the_charts_tell_lines_and_marks_apart_by_marker(monkeypatch):
    loss, acc = chart_texts(monkeypatch, NO_COLOR="1")
    for text in (loss, acc):
        marks = legend_marks(text)
        assert marks["train"] != marks["val"], marks
        title = text.splitlines()[0]
        assert "best: epoch 2 (|)" in title and "(:)" in title, title
        assert "green" not in text and "magenta" not in text
        assert sum(line.count(":") for line in text.splitlines()[1:]) >= 5  # the lr change: a dotted column
    since = next(line for line in loss.splitlines() if " val since best" in line)  # after the best epoch
    assert since.split(" val since best")[0].split()[-1] not in legend_marks(loss).values()


def test_with_colour_the_titles_name_the_colours(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    loss, _ = chart_texts(monkeypatch)
    assert "(green)" in loss.splitlines()[0]


def test_ascii_mode_draws_the_curves_with_ascii_markers(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    loss, acc = chart_texts(monkeypatch, MLP_TUI_ASCII="1")
    for text in (loss, acc):
        assert "(|)" in text.splitlines()[0] and "(:)" in text.splitlines()[0]  # in ASCII both marks are lines
        marks = legend_marks(text)
        assert marks["train"].isascii() and marks["val"].isascii() and marks["train"] != marks["val"]
        inside = [line for line in text.splitlines()[1:] if "┤" in line or "│" in line]
        assert all(ch.isascii() or ch in "┤│┬┴┼─┌┐└┘" for line in inside for ch in line)  # frame: the driver's


def test_ascii_footers_name_the_enter_key(monkeypatch):
    """Textual shows enter as ⏎, which ASCII lacks (it would read "?"): an ASCII app says "enter"."""
    from textual.binding import Binding

    from mlp_tui.views.tui import app as app_module

    enter = Binding("enter", "open", "Open run")
    monkeypatch.setattr(app_module, "ascii_only", lambda stream=None: True)
    assert create_app("tiny").get_key_display(enter) == "enter"
    monkeypatch.setattr(app_module, "ascii_only", lambda stream=None: False)
    assert create_app("tiny").get_key_display(enter) == "⏎"
