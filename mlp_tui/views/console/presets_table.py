"""The `mlp-tui presets` listing: each preset's model, what to expect of it and what it is,
wrapped to the terminal's width."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mlp_tui.core.datasets import DATASET_NAMES, dataset_info
from mlp_tui.core.presets import Preset

INDENT = " " * 4


def preset_lines(presets: list[Preset], width: int, user_folder: Path, dataset: str = "mnist") -> list[str]:
    """Each preset's model, what to expect of it on `dataset` and what it is."""

    def wrap(text: str, first: str = INDENT) -> list[str]:
        return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=INDENT, break_on_hyphens=False)

    lines = []
    for p in presets:
        c = p.config_on(dataset)  # with the settings the preset gives that dataset
        lines += wrap(f"{c.architecture} · {c.loss} · {c.optimizer} · {c.epochs} epochs", f"{p.name:<11} ")
        lines += wrap(p.expectation(dataset))
        lines += wrap(p.description)
    others = " or ".join(f"--dataset {d}" for d in DATASET_NAMES if d != dataset)
    notes = (
        f"Expected: test accuracy on {dataset_info(dataset).title}, mean ± standard deviation over seeds, "
        f"measured by benchmarks/accuracy.py (on other data: {others}). Add your own presets as .toml files "
        f"in {user_folder}, or pass --preset path/to/file.toml"
    )
    return [*lines, "", *textwrap.wrap(notes, width, break_on_hyphens=False)]
