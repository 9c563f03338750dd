"""`mlp-tui lr-find`: sweep the learning rate on a copy of the run's model (the engine's
lr_find) and show the loss curve, the suggested rates and the `run` command that uses one.

It takes every option `run` takes (made from the same declarations), so the sweep sees the run's
data, distortions, model, optimizer and batch size. The chart is drawn only on a terminal: piped
or logged, the same text comes without it.
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import typer

from mlp_tui.cli.common import DEFAULT_PRESET, DataDir, PresetOption, user_errors
from mlp_tui.cli.run_options import given_settings
from mlp_tui.core.config import RunConfig
from mlp_tui.core.overrides import override_flags
from mlp_tui.core.presets import resolve_preset
from mlp_tui.text.terminal import ascii_only, no_color
from mlp_tui.text.width import layout_width

if TYPE_CHECKING:
    from mlp_tui.engine.lr_find import LrFinding

CHART_HEIGHT = 20


def lr_find(preset: PresetOption = DEFAULT_PRESET, data_dir: DataDir = None, **settings: Any) -> None:
    """Find a learning rate: train a copy of the model for about 100 batches while the rate rises
    from 1e-7 to 10, and suggest one from the loss curve (fastai's lr_find). Takes every option
    of `run`; prints the chart on a terminal, then the suggestions and the command that uses one."""
    values = given_settings(settings)
    with user_errors():
        chosen = resolve_preset(preset)
        config = chosen.with_options(values)
        from mlp_tui.engine.lr_find import find_lr
        from mlp_tui.runs.launch import prepare

        prepared = prepare(config, data_dir)
        finding = find_lr(config, prepared.data, prepared.device)
        command = train_command(preset, chosen.flags_base(config.dataset), config, finding.suggested.lr)
        show(finding, config.batch_size, command)


def show(finding: LrFinding, batch_size: int, command: str) -> None:
    """The chart (on a terminal only), then the sweep, the suggestions and the command, each line
    at most COLUMNS wide (a longer one goes on, indented)."""
    from mlp_tui.views.console import lr_report

    width = layout_width()
    if sys.stdout.isatty():
        typer.echo(lr_report.chart_text(finding, width, CHART_HEIGHT, plain=no_color(), ascii=ascii_only()))
    lines = [*lr_report.summary_lines(finding, batch_size), "Suggestions (smoothed training loss):"]
    lines += [*lr_report.suggestion_lines(finding), lr_report.suggested_choice(finding.suggested)]
    lines.append(f"Train with: {command}")
    for line in lines:
        typer.echo(textwrap.fill(line, width, subsequent_indent="    ", break_on_hyphens=False, break_long_words=False))


def train_command(preset: str, base: RunConfig, config: RunConfig, lr: float) -> str:
    """The `run` command with the same options, at rate `lr` (to two significant figures)."""
    from mlp_tui.views.console.lr_report import rate_text

    lr = float(rate_text(lr))
    flags = override_flags(dataclasses.replace(config, lr=lr, lr_suggested=False), base)
    if "--lr" not in flags:  # the preset's own rate: said anyway, it is the point of the line
        flags += ["--lr", f"{lr:g}"]
    return shlex.join(["mlp-tui", "run", "--preset", preset, *flags])
