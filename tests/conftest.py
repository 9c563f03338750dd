"""Shared fixtures: where real MNIST lives, a small learnable synthetic set, CPU configs, a
clean environment for subprocesses, and a helper that runs a Trainer and keeps its events."""

from __future__ import annotations

import dataclasses
import gzip
import os
import queue
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mlp_tui.core.config import RunConfig
from mlp_tui.core.datasets import IDX_FILES, dataset_info
from mlp_tui.engine.data import resolve_data_dir, split_dataset, synthetic_digits
from mlp_tui.engine.trainer import Control, Trainer

REPO = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")

# Environment variables that would change how a child process decides on colour or a terminal.
_TERMINAL_ENV = (
    "NO_COLOR",
    "FORCE_COLOR",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "COLUMNS",
    "LINES",
    "CLICOLOR_FORCE",
    "MLP_TUI_ASCII",
)


def _find_mnist() -> Path | None:
    """$MLP_TUI_DATA if set, else the shared datasets folder next to the checkout."""
    candidates = []
    if os.environ.get("MLP_TUI_DATA"):
        candidates.append(Path(os.environ["MLP_TUI_DATA"]))
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "datasets")
    for candidate in candidates:
        root = resolve_data_dir(candidate)
        if all((root / "MNIST" / "raw" / name).is_file() for name in IDX_FILES):
            return root
    return None


MNIST_ROOT = _find_mnist()


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    if MNIST_ROOT is None:
        pytest.skip(
            "real MNIST not found: set MLP_TUI_DATA to a folder holding MNIST/raw/*-ubyte "
            "(or put it in ../shared/datasets next to the checkout)"
        )
    return MNIST_ROOT


@pytest.fixture(autouse=True)
def _no_user_presets(monkeypatch, tmp_path_factory):
    """Keep the user's own preset folder out of every test: only the built-ins are visible."""
    monkeypatch.setenv("MLP_TUI_PRESETS", str(tmp_path_factory.mktemp("user-presets")))


@pytest.fixture(autouse=True, scope="session")
def _own_user_cache(tmp_path_factory):
    """The tests' datasets leave their pixel statistics in a cache of their own, not the user's
    (XDG_CACHE_HOME is where platformdirs puts it on Linux; child processes inherit it)."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user-cache"))
    yield
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous


def idx_bytes(dims: tuple[int, ...], body: bytes, *, magic: bytes = b"\x00\x00\x08") -> bytes:
    """An IDX file of unsigned bytes: magic (two zero bytes, type 0x08, dimensions), sizes, body."""
    return magic + bytes([len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims) + bytes(body)


@pytest.fixture
def idx_dataset():
    """Write a small learnable dataset (synthetic_digits) as the four IDX files in torchvision's
    layout <root>/<Folder>/raw, plain or gzipped; returns the raw folder."""

    def write(root: Path, dataset: str = "fashion-mnist", *, n_train: int = 1200, n_test: int = 300,
              gzipped: bool = False, seed: int = 0, noise: float = 60.0) -> Path:  # fmt: skip
        raw = root / dataset_info(dataset).raw_folder
        raw.mkdir(parents=True, exist_ok=True)
        x, y, tx, ty = synthetic_digits(n_train=n_train, n_test=n_test, seed=seed, noise=noise)
        contents = {
            "train-images-idx3-ubyte": idx_bytes((n_train, 28, 28), x.numpy().tobytes()),
            "train-labels-idx1-ubyte": idx_bytes((n_train,), y.to(torch.uint8).numpy().tobytes()),
            "t10k-images-idx3-ubyte": idx_bytes((n_test, 28, 28), tx.numpy().tobytes()),
            "t10k-labels-idx1-ubyte": idx_bytes((n_test,), ty.to(torch.uint8).numpy().tobytes()),
        }
        for name, data in contents.items():
            if gzipped:
                (raw / f"{name}.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
            else:
                (raw / name).write_bytes(data)
        return raw

    return write


@pytest.fixture(scope="session")
def synthetic():
    """2000 training images (1800 train / 200 val after the split) and 500 test images of a
    learnable 10-class pattern task, on the CPU."""
    x, y, tx, ty = synthetic_digits(n_train=2000, n_test=500, seed=0)
    return split_dataset(x, y, tx, ty, val_split=0.1, seed=0, device=CPU, name="synthetic")


@pytest.fixture
def make_config():
    """A small CPU config; keyword arguments override fields."""

    def make(**overrides) -> RunConfig:
        # One thread: the same numbers on any machine (auto would time and switch counts).
        base = RunConfig(hidden=(32,), epochs=2, batch_size=128, lr=1e-3, device="cpu", threads="1")
        return dataclasses.replace(base, **overrides)

    return make


@pytest.fixture
def run_trainer():
    """Run a Trainer to the end; returns (result event, all events emitted, trainer)."""

    def run(config: RunConfig, data, *, store=None, control: Control | None = None, on_event=None):
        events = []

        def emit(event):
            events.append(event)
            if on_event is not None:
                on_event(event)

        trainer = Trainer(config, data, CPU, emit=emit, control=control, store=store, preset="test")
        result = trainer.run()
        if store is not None:
            store.close()
        return result, events, trainer

    return run


@pytest.fixture
def host_reads(monkeypatch) -> list[str]:
    """Every read of a tensor's value back to the host (.item(), .tolist(), bool(), .cpu(), ...),
    by name, from now on: on a GPU each one waits for the device."""
    reads: list[str] = []
    for name in ("item", "tolist", "__bool__", "cpu", "__float__", "__int__"):
        real = getattr(torch.Tensor, name)

        def counted(self, *args, _real=real, _name=name, **kwargs):
            reads.append(_name)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return reads


@pytest.fixture
def cli_env(tmp_path_factory) -> dict[str, str]:
    """Environment for a child `python -m mlp_tui`: no user presets, no colour overrides."""
    env = dict(os.environ)
    for key in _TERMINAL_ENV:
        env.pop(key, None)
    env["MLP_TUI_PRESETS"] = str(tmp_path_factory.mktemp("child-presets"))
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@pytest.fixture
def mlp_tui_cmd():
    """argv prefix that runs the command line in a child process with this interpreter."""
    return [sys.executable, "-m", "mlp_tui"]


# A test session started under the C locale (no LANG, as some CI runners have) would put every
# view drawn in this process in ASCII mode; the tests about that mode set their own locale.
from mlp_tui.text import terminal as _terminal  # noqa: E402

if _terminal._python_saw_c_locale():
    os.environ.setdefault(_terminal.ASCII_ENV, "0")


# The models under test are tiny: one thread is as fast as two and does not collapse when another
# process is busy on the same cores (intra-op threads spin-wait on each other).
torch.set_num_threads(1)


class FakeRun:
    """A run handle as the screen uses one: events as the test sends them, commands recorded."""

    def __init__(self, *history) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.paused = False
        self.lrs: list[float] = []
        self.scales: list[float] = []
        self.send(*history)

    def send(self, *events) -> None:
        for event in events:
            self.queue.put(event)

    def events(self):
        while (event := self.queue.get()) is not None:
            yield event

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def stop(self, reason: str = "stopped") -> None:
        pass

    def set_lr(self, lr: float) -> None:
        self.lrs.append(lr)

    def scale_lr(self, factor: float) -> None:
        self.scales.append(factor)

    def close(self) -> None:
        self.queue.put(None)


# -- reading an app's screen as the user sees it (every layer composited, toasts included) ----------


def screen_lines(app) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


def screen_text(app) -> str:
    return "\n".join(screen_lines(app))


def style_of(app, text: str):
    """The style the screen draws `text` in (the first segment that holds it)."""
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            if text in segment.text:
                return segment.style
    raise AssertionError(f"{text!r} is not on the screen:\n" + screen_text(app))


@pytest.fixture(scope="session")
def tiny_run(mnist_root, tmp_path_factory) -> Path:
    """784-16-10 trained a little on real MNIST (about 90 % on the test set; 6,000 validation and
    10,000 test images), once for the whole session: the app's tests read its checkpoints."""
    run_dir = tmp_path_factory.mktemp("tiny-runs") / "tiny"
    env = dict(os.environ, PYTHONPATH=str(REPO), MLP_TUI_PRESETS=str(tmp_path_factory.mktemp("presets")))
    for key in ("NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "mlp_tui", "run", "--preset", "tiny", "--headless", "--run-dir", str(run_dir),
           "--data-dir", str(mnist_root), "--epochs", "2", "--subset", "10000"]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return run_dir


def must_search(pattern: str | re.Pattern[str], text: str, flags: int = 0) -> re.Match[str]:
    """re.search that fails the test, showing the text, when the pattern is not there."""
    found = re.compile(pattern, flags).search(text)
    assert found is not None, f"{pattern!r} not found in {text!r}"
    return found


async def wait_until(pilot, condition, timeout: float = 60.0) -> None:
    """Let the app run until `condition()` holds (a worker or another process works meanwhile);
    a bounded wait for a condition, never a sleep for luck."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)
