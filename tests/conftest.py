"""Shared fixtures: where real MNIST lives, a small learnable synthetic set, CPU configs, a
clean environment for subprocesses, and a helper that runs a Trainer and keeps its events."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import pytest
import torch

from mlp_tui.config import RunConfig
from mlp_tui.data import MNIST_FILES, resolve_data_dir, split_dataset, synthetic_digits
from mlp_tui.engine import Control, Trainer

REPO = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")

# Environment variables that would change how a child process decides on colour or a terminal.
_TERMINAL_ENV = ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES", "CLICOLOR_FORCE")


def _find_mnist() -> Path | None:
    """$MLP_TUI_DATA if set, else the shared datasets folder next to the checkout."""
    candidates = []
    if os.environ.get("MLP_TUI_DATA"):
        candidates.append(Path(os.environ["MLP_TUI_DATA"]))
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "datasets")
    for candidate in candidates:
        root = resolve_data_dir(candidate)
        if all((root / "MNIST" / "raw" / name).is_file() for name in MNIST_FILES):
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
        base = RunConfig(hidden=(32,), epochs=2, batch_size=128, lr=1e-3, device="cpu")
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


# The models under test are tiny: one thread is as fast as two and does not collapse when another
# process is busy on the same cores (intra-op threads spin-wait on each other).
torch.set_num_threads(1)
