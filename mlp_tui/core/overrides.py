"""Options given on the command line (or in the form) on top of a preset, and back: the rule for a
learning rate nobody gave, and the flags that turn a preset into a run's config (its reproduce line)."""

from __future__ import annotations

import dataclasses
from typing import Any

from mlp_tui.core.config import CLI_OPTIONS, CLI_SOURCE, RunConfig, build_config, cli_flag
from mlp_tui.core.lr_changes import format_lr_changes
from mlp_tui.core.suggested_lr import suggested_lr


def with_suggested_lr(before: RunConfig, after: RunConfig, lr_given: bool) -> RunConfig:
    """The one rule for a learning rate nobody gave, in the command line and the app alike:
    when the optimizer or the loss changes, the rate suggested for the new pair replaces the old
    one (Adam's 0.001 barely moves SGD, and Adadelta wants 1.0)."""
    if lr_given:
        return dataclasses.replace(after, lr_suggested=False)
    if (after.optimizer, after.loss) == (before.optimizer, before.loss):
        return after
    return dataclasses.replace(after, lr=suggested_lr(after.optimizer, after.loss), lr_suggested=True)


def with_overrides(base: RunConfig, values: dict[str, Any], source: str | None = CLI_SOURCE) -> RunConfig:
    """`values` (options given on the command line) on top of a preset's config."""
    return with_suggested_lr(base, build_config(values, source, base), lr_given="lr" in values)


def override_flags(config: RunConfig, base: RunConfig) -> list[str]:
    """`run` options that turn `base` into `config`: the command that reproduces a run. A
    suggested learning rate is left for the same rule to suggest again."""
    flags = []
    ours, theirs = config.to_dict(), base.to_dict()
    for key in CLI_OPTIONS:
        value = ours[key]
        if value == theirs[key] or (key == "lr" and config.lr_suggested):
            continue
        if isinstance(value, bool):
            flags.append(cli_flag(key) if value else "--no-" + key.replace("_", "-"))
        elif key == "lr_changes":
            flags += [cli_flag(key), format_lr_changes(value)]
        elif isinstance(value, list):
            flags += [cli_flag(key), ",".join(str(v) for v in value)]
        else:
            flags += [cli_flag(key), str(value)]
    return flags
