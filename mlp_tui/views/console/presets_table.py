"""The `mlp-tui presets` listing: each preset's model, what to expect of it and what it is,
wrapped to the terminal's width."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mlp_tui.core.presets import Preset

INDENT = " " * 4


def preset_lines(presets: list[Preset], width: int, user_folder: Path) -> list[str]:
    def wrap(text: str, first: str = INDENT) -> list[str]:
        return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=INDENT, break_on_hyphens=False)

    lines = []
    for p in presets:
        c = p.config
        lines += wrap(f"{c.architecture} · {c.loss} · {c.optimizer} · {c.epochs} epochs", f"{p.name:<11} ")
        if p.expected:
            lines += wrap(f"expect {p.expected}")
        lines += wrap(p.description)
    notes = (
        "Expected: test accuracy on MNIST, mean ± standard deviation over seeds, measured by "
        f"benchmarks/accuracy.py. Add your own presets as .toml files in {user_folder}, or pass "
        "--preset path/to/file.toml"
    )
    return [*lines, "", *textwrap.wrap(notes, width, break_on_hyphens=False)]
