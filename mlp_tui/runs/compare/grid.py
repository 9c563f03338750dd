"""A comparison's grid: `--vary` axes × presets → variants, each trained once per seed.

No torch here: the grid is checked (and refused with exit 2, naming the axis) before anything
trains, and the app builds the same grid from its form.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlp_tui.core.config import (
    CLI_OPTIONS,
    CLI_SOURCE,
    FIELDS,
    ConfigError,
    RunConfig,
    build_config,
    did_you_mean,
    expected,
)
from mlp_tui.core.lr_changes import format_lr_changes
from mlp_tui.core.overrides import with_overrides
from mlp_tui.core.suggested_lr import suggested_lr

MAX_RUNS = 64  # more than this needs --yes: a typo in an axis should not start a week of training
SEPARATOR = " · "
SLASHED = ("hidden", "lr_changes")  # settings whose values hold commas: --vary separates them by /


@dataclass(frozen=True)
class Axis:
    """One `--vary KEY=V1,V2` (list settings such as hidden: `512/512,512/256,256,256`)."""

    key: str
    values: tuple[Any, ...]

    @property
    def text(self) -> str:
        sep = "/" if self.key in SLASHED else ","
        return f"{self.key}={sep.join(value_text(self.key, v, bare=True) for v in self.values)}"


def parse_axis(text: str) -> Axis:
    """`loss=nll,mse` → Axis('loss', ('nll', 'mse')). Raises ConfigError naming the axis."""
    key, eq, raw = text.partition("=")
    key = key.strip().replace("-", "_")
    where = f"--vary {text}"
    if not eq or not key:
        raise ConfigError(f"{where}: expected KEY=VALUE,VALUE (e.g. --vary loss=nll,mse)")
    if key == "seed":
        raise ConfigError(f"{where}: seeds are not an axis; use --seeds N (each variant runs once per seed)")
    if key not in CLI_OPTIONS:
        raise ConfigError(f"{where}: unknown setting '{key}'{did_you_mean(key, list(CLI_OPTIONS))}; "
                          f"allowed: {', '.join(CLI_OPTIONS)}")  # fmt: skip
    items = [item.strip() for item in raw.split("/" if key in SLASHED else ",")]
    if not raw.strip() or ("" in items and key != "hidden"):
        raise ConfigError(f"{where}: an empty value; give one or more values separated by "
                          f"{'/' if key in SLASHED else ','}")  # fmt: skip
    values = []
    for item in items:
        value = _parse_value(key, item, where)
        if value in values:
            raise ConfigError(f"{where}: '{item}' is given twice")
        values.append(value)
    return Axis(key, tuple(values))


def _parse_value(key: str, item: str, where: str) -> Any:
    kind = type(FIELDS[key].default)
    try:
        if kind is bool:
            words = {
                "true": True,
                "yes": True,
                "on": True,
                "1": True,
                "false": False,
                "no": False,
                "off": False,
                "0": False,
            }
            if item.lower() not in words:
                raise ValueError
            value: Any = words[item.lower()]
        elif kind is int:
            value = int(item)
        elif kind is float:
            value = float(item)
        else:
            value = item
        return getattr(build_config({key: value}), key)
    except (ValueError, ConfigError) as exc:
        detail = str(exc).split(": ", 1)[-1] if isinstance(exc, ConfigError) else f"'{item}' is not valid"
        tail = "" if "expected" in detail else f"; expected {expected(key)}"
        raise ConfigError(f"{where}: {detail}{tail}") from None


def value_text(key: str, value: Any, bare: bool = False) -> str:
    """How a variant's value is named: choices bare ("sgd"), numbers with their key ("dropout 0.2")."""
    if isinstance(value, bool):
        return str(value).lower() if bare else (key if value else f"no {key}")
    if key == "hidden":
        text = ",".join(str(v) for v in value) or "none"
        return text if bare else f"hidden {text}"
    if key == "lr_changes":
        return format_lr_changes(value) if bare else f"lr changes {format_lr_changes(value)}"
    if isinstance(value, float):
        text = f"{value:g}"
    else:
        text = str(value)
    return text if bare or FIELDS[key].metadata["option"].choices else f"{key} {text}"


@dataclass(frozen=True)
class Variant:
    """One cell of the grid: a config (its seed is the first seed) and what makes it this cell."""

    name: str  # by what differs between the variants only: "mse · sgd"
    preset: str
    config: RunConfig
    settings: dict[str, Any]  # the axis values of this cell

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() or c in "-_.," else "_" for c in self.name.replace(SEPARATOR, "_")) or "base"


def build_grid(
    presets: list[tuple[str, RunConfig]],
    axes: list[Axis],
    common: dict[str, Any],
    on_dataset: dict[str, Callable[[str], RunConfig]] | None = None,
) -> list[Variant]:
    """Every combination of the presets and axes; `common` (the other options) applies to all.
    `on_dataset`: a preset's config on a dataset (Preset.config_on), where a variant names one.

    When the optimizer or the loss is an axis, every variant trains at the learning rate
    suggested for its own pair (a comparison of SGD at Adam's rate says nothing), unless lr is
    an axis or was given."""
    keys = [a.key for a in axes]
    if len(set(keys)) != len(keys):
        twice = next(k for k in keys if keys.count(k) > 1)
        raise ConfigError(f"--vary {twice}: given twice; put all its values in one --vary")
    clash = set(keys) & set(common)
    if clash:
        key = sorted(clash)[0]
        raise ConfigError(f"--vary {key}: also given as --{key.replace('_', '-')}; drop one of them")
    variants = []
    for (preset, base), combo in itertools.product(presets, itertools.product(*(a.values for a in axes))):
        settings = dict(zip(keys, combo, strict=True))
        dataset = (common | settings).get("dataset")
        if dataset is not None and preset in (on_dataset or {}):
            base = (on_dataset or {})[preset](dataset)  # the preset as it trains on that dataset
        config = with_overrides(base, common | settings, CLI_SOURCE)
        if {"optimizer", "loss"} & set(keys) and "lr" not in keys and "lr" not in common:
            config = dataclasses.replace(config, lr=suggested_lr(config.optimizer, config.loss), lr_suggested=True)
        variants.append(Variant("", preset, config, settings))
    return _named(variants, axes, several_presets=len({p for p, _ in presets}) > 1)


def _named(variants: list[Variant], axes: list[Axis], several_presets: bool) -> list[Variant]:
    varying = [a.key for a in axes if len(a.values) > 1]
    named = []
    for v in variants:
        parts = [v.preset] if several_presets else []
        parts += [value_text(key, v.settings[key]) for key in varying]
        named.append(dataclasses.replace(v, name=SEPARATOR.join(parts) or v.preset))
    return named


def seeds_for(config: RunConfig, count: int) -> list[int]:
    """The seeds of a variant: its own seed and the next ones."""
    return [config.seed + i for i in range(count)]


def check_size(variants: list[Variant], seeds: int, yes: bool) -> None:
    if seeds < 1:
        raise ConfigError(f"--seeds {seeds}: needs at least 1")
    total = len(variants) * seeds
    if total > MAX_RUNS and not yes:
        raise ConfigError(
            f"--vary: {len(variants)} variants × {seeds} seeds = {total} runs, more than {MAX_RUNS}; "
            "add --yes to train them all, or vary fewer settings"
        )
