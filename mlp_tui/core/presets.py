"""Presets: TOML files of run settings, built-in or the user's own, with what to expect of them.

Torch-free, so `mlp-tui presets` and the app's setup screen stay instant.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlp_tui.core.config import (
    CLI_SOURCE,
    FIELDS,
    META_KEYS,
    ConfigError,
    RunConfig,
    build_config,
    did_you_mean,
    where,
)
from mlp_tui.core.datasets import DATASET_NAMES, dataset_info
from mlp_tui.core.overrides import with_overrides
from mlp_tui.core.setting_values import duration_words
from mlp_tui.core.toml_file import read_toml


@dataclass(frozen=True)
class Expected:
    """Measured test accuracy of a preset: mean and standard deviation over `seeds` seeds, and
    the wall time of one run (start-up included) on `hardware`."""

    accuracy: float  # %
    sd: float  # percentage points
    seeds: int
    seconds: float | None = None
    hardware: str = ""

    def __str__(self) -> str:
        text = f"{self.accuracy:.2f} ± {self.sd:.2f} %"
        if self.seconds:
            text += f" in ~{duration_words(self.seconds)}"
        return text + (f" on {self.hardware}" if self.hardware else "")


EXPECTED_KEYS = {"accuracy": (float, 0, 100), "sd": (float, 0, 100), "seeds": (int, 1, 10_000),
                 "seconds": (float, 0, 10**7), "hardware": (str, None, None)}  # fmt: skip


def _expectations(value: Any, path: Path, own: str) -> tuple[Expected | str, dict[str, Expected]]:
    """`expected`: free text, one table of figures (measured on the preset's own dataset), or a
    table of them by dataset (`expected.fashion-mnist = { ... }`); checked. The figure on the
    preset's own dataset (or the text), and every measured figure by dataset."""
    if isinstance(value, dict) and any(isinstance(item, dict) for item in value.values()):  # per dataset
        for key in value:
            if key not in DATASET_NAMES:
                at = where(str(path), f"expected.{key}" if key else "expected")  # "" names no table
                raise ConfigError(f"{at}: unknown dataset '{key}'{did_you_mean(key, DATASET_NAMES)}; "
                                  f"allowed: {', '.join(DATASET_NAMES)}")  # fmt: skip
        by_dataset = {key: _expected(item, path, f"expected.{key}") for key, item in value.items()}
        for key, figure in by_dataset.items():
            if isinstance(figure, str):
                raise ConfigError(f"{where(str(path), f'expected.{key}')}: {figure!r} is not a table of figures")
        measured = {key: figure for key, figure in by_dataset.items() if isinstance(figure, Expected)}
        return measured.get(own, ""), measured
    figure = _expected(value, path, "expected")
    return figure, ({own: figure} if isinstance(figure, Expected) else {})


def _expected(value: Any, path: Path, key_name: str) -> Expected | str:
    """`expected` as free text, or as a table of measured figures, checked."""
    at = where(str(path), key_name)
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        raise ConfigError(f"{at}: {value!r} is not a string or a table")
    figures: dict[str, Any] = {}  # checked against EXPECTED_KEYS below
    for key, item in value.items():
        if key not in EXPECTED_KEYS:
            allowed = [*EXPECTED_KEYS, *DATASET_NAMES]
            per_dataset = f"or a table per dataset ({', '.join(DATASET_NAMES)})"
            raise ConfigError(f"{at}: unknown key '{key}'{did_you_mean(key, allowed)}; allowed: "
                              f"{', '.join(EXPECTED_KEYS)}, {per_dataset}")  # fmt: skip
        kind, low, high = EXPECTED_KEYS[key]
        number = isinstance(item, (int, float)) and not isinstance(item, bool)
        if (kind is str and not isinstance(item, str)) or (kind is int and not (number and isinstance(item, int))):
            raise ConfigError(f"{at}: '{key}' = {item!r} is not {'a string' if kind is str else 'an integer'}")
        if kind is float and not number:
            raise ConfigError(f"{at}: '{key}' = {item!r} is not a number")
        if low is not None and not low <= item <= high:
            raise ConfigError(f"{at}: '{key}' = {item!r} is out of range {low}..{high}")
        figures[key] = float(item) if kind is float else item
    missing = [key for key in ("accuracy", "sd", "seeds") if key not in figures]
    if missing:
        raise ConfigError(f"{at}: missing {', '.join(missing)} (accuracy and sd in %, over how many seeds)")
    return Expected(**figures)


@dataclass(frozen=True)
class Preset:
    name: str
    path: Path
    description: str
    source: str
    expected: Expected | str  # on the preset's own dataset, or the user's words
    values: dict[str, Any] = field(default_factory=dict)
    measured: dict[str, Expected] = field(default_factory=dict)  # by dataset
    on: dict[str, dict[str, Any]] = field(default_factory=dict)  # settings that differ on a dataset

    @property
    def config(self) -> RunConfig:
        """The preset on its own dataset (with the table for it, if it has one)."""
        own = self.values.get("dataset", RunConfig().dataset)
        if isinstance(own, str) and own in self.on:  # a bad value is build_config's to name
            return self.config_on(own)
        return build_config(self.values, source=str(self.path))

    def config_on(self, dataset: str) -> RunConfig:
        """The preset trained on `dataset`: its settings, and those it gives that dataset
        (a `[fashion-mnist]` table, say), so that each dataset gets a strong default."""
        values = self.values | self.on.get(dataset, {}) | {"dataset": dataset}
        return build_config(values, source=f"{self.path} [{dataset}]" if dataset in self.on else str(self.path))

    def flags_base(self, dataset: str) -> RunConfig:
        """What a command's flags are counted from (reproduce lines): the preset on `dataset`
        but under its own dataset's name, so `--dataset` is said and what follows from it is not."""
        return dataclasses.replace(self.config_on(dataset), dataset=self.config.dataset)

    def with_options(self, values: dict[str, Any], source: str | None = CLI_SOURCE) -> RunConfig:
        """The preset on the dataset `values` name (else its own), with `values` on top."""
        return with_overrides(self.config_on(values.get("dataset", self.config.dataset)), values, source)

    def expectation(self, dataset: str) -> str:
        """What to expect on `dataset`, in words: "expect 98.63 ± 0.12 % in ~21 s on 2 CPU
        cores", the user's own words (on the preset's dataset), or that none was measured."""
        if dataset in self.measured:
            return f"expect {self.measured[dataset]}"
        if isinstance(self.expected, str) and self.expected and dataset == self.config.dataset:
            return f"expect {self.expected}"
        return f"no figure measured on {dataset_info(dataset).title}"

    def moved(self, config: RunConfig, old: str) -> dict[str, Any]:
        """What `config`, moved from dataset `old` to its own, takes of the preset there: the
        settings the preset gives either dataset, where `config` still holds the old value."""
        keys = set(self.on.get(old, {})) | set(self.on.get(config.dataset, {}))
        if old == config.dataset or not keys:
            return {}
        before, after = self.config_on(old), self.config_on(config.dataset)
        return {key: getattr(after, key) for key in sorted(keys) if getattr(config, key) == getattr(before, key)}

    def as_shipped(self, config: RunConfig) -> bool:
        """Whether `config` trains this preset as it is (on any dataset, seed or device), so
        that its measured figure applies."""
        base = self.config_on(config.dataset)
        return all(getattr(config, key) == getattr(base, key) for key in FIELDS if key not in RUN_ONLY)


# Settings that change where and how a run goes, not what it learns: a figure still applies.
RUN_ONLY = ("seed", "device", "threads", "log_every", "health", "compile", "deterministic", "lr_suggested")


def builtin_preset_dir() -> Path:
    # mlp_tui/presets: in a checkout a link to the top-level presets/ folder, in a wheel the
    # same files as package data.
    return Path(__file__).resolve().parents[1] / "presets"


def user_preset_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("mlp-tui")) / "presets"


def preset_dirs() -> list[Path]:
    """Built-in presets first; a user's own (same name wins) after."""
    dirs = [builtin_preset_dir()]
    extra = os.environ.get("MLP_TUI_PRESETS")
    dirs.append(Path(extra) if extra else user_preset_dir())
    return dirs


def load_preset_file(path: Path) -> Preset:
    data = read_toml(path, "preset file")
    if "variant" in data and "seeds" in data:
        raise ConfigError(f"{path}: a comparison (compare.toml), not a preset; redo it with: "
                          f"mlp-tui compare --preset {path}")  # fmt: skip
    meta: dict[str, Any] = {}
    for key in META_KEYS:
        if key in data:
            value = data.pop(key)
            if key == "expected":
                own = data.get("dataset", RunConfig().dataset)
                value, meta["measured"] = _expectations(value, path, own if own in DATASET_NAMES else "mnist")
            elif not isinstance(value, str):
                raise ConfigError(f"{where(str(path), key)}: {value!r} is not a string")
            meta[key] = value
    on = {key: data.pop(key) for key in DATASET_NAMES if isinstance(data.get(key), dict)}
    preset = Preset(
        name=path.stem,
        path=path,
        description=meta.get("description", ""),
        source=meta.get("source", ""),
        expected=meta.get("expected", ""),
        values=data,
        measured=meta.get("measured", {}),
        on=on,
    )
    _ = [preset.config, *(preset.config_on(key) for key in on)]  # a bad preset is caught before anything trains
    return preset


def to_toml(config: RunConfig, meta: dict[str, str] | None = None) -> str:
    """The config as a preset file, so a run directory's config can be fed back to --preset."""
    lines = []
    for key, value in (meta or {}).items():
        lines.append(f"{key} = {toml_value(value)}")
    if lines:
        lines.append("")
    for key, value in config.to_dict().items():
        lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def list_presets() -> list[Preset]:
    """All presets by name. Broken user files are skipped here; `resolve_preset` reports them."""
    found: dict[str, Path] = {}
    for folder in preset_dirs():
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                found[path.stem] = path
    presets = []
    for name in sorted(found, key=_preset_order):
        try:
            presets.append(load_preset_file(found[name]))
        except ConfigError:
            continue
    return presets


# Built-ins in teaching order (small to strong); anything else alphabetically after.
_ORDER = ("tiny", "keras", "kaiming", "sequential", "sigmoid", "dropout", "best")


def _preset_order(name: str) -> tuple[int, str]:
    return (_ORDER.index(name) if name in _ORDER else len(_ORDER), name)


def resolve_preset(name_or_path: str) -> Preset:
    """A preset by name (built-in or the user's folder) or by path to a TOML file."""
    looks_like_path = name_or_path.endswith(".toml") or os.sep in name_or_path or "/" in name_or_path
    if looks_like_path:
        return load_preset_file(Path(name_or_path).expanduser())
    for folder in reversed(preset_dirs()):
        path = folder / f"{name_or_path}.toml"
        if path.is_file():
            return load_preset_file(path)
    names = [p.name for p in list_presets()]
    raise ConfigError(
        f"unknown preset '{name_or_path}'{did_you_mean(name_or_path, names)}; "
        f"available: {', '.join(names)} (or a path to a .toml file)"
    )


def expectation_line(preset_name: str, config: RunConfig) -> str:
    """For a run's header: what its preset is measured to reach on the run's dataset, when the
    run trains the preset as shipped ("" when it changes what is learnt, or the preset is gone)."""
    try:
        preset = resolve_preset(preset_name)
    except ConfigError:
        return ""
    return f"preset {preset.name} as shipped: {preset.expectation(config.dataset)}" if preset.as_shipped(config) else ""
