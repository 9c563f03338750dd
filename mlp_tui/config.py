"""Run configuration: the dataclass, preset loading and validation with clear errors.

Imports nothing heavy (no torch) so `mlp-tui presets` and `--help` stay instant.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACTIVATIONS = ("relu", "sigmoid", "tanh", "elu", "leaky_relu", "gelu", "silu", "mish")
LOSSES = ("nll", "cross-entropy", "mse")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad", "adadelta")
INITS = ("default", "kaiming", "xavier", "normal")
SCHEDULES = ("none", "onecycle", "cosine")
DEVICES = ("auto", "cpu", "cuda", "mps")

# Keys a preset file may carry besides the run settings: they describe the preset.
META_KEYS = ("description", "source", "expected")

MAX_HIDDEN = 16384
MAX_LAYERS = 16


class ConfigError(ValueError):
    """Bad user input: a preset file, a key or a value. Shown without a traceback, exit 2."""


@dataclass(frozen=True)
class RunConfig:
    hidden: tuple[int, ...] = (512, 512)
    activation: str = "relu"
    dropout: float = 0.0
    input_dropout: float = 0.0
    batch_norm: bool = False
    init: str = "default"
    loss: str = "cross-entropy"
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    schedule: str = "none"
    weight_decay: float = 0.0
    l1: float = 0.0
    batch_size: int = 128
    epochs: int = 10
    val_split: float = 0.1
    patience: int = 0
    seed: int = 0
    device: str = "auto"
    subset: int = 0
    augment: float = 0.0
    elastic: float = 0.0
    compile: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["hidden"] = list(self.hidden)
        return data

    @property
    def architecture(self) -> str:
        return "-".join(str(n) for n in (784, *self.hidden, 10))

    def training_extras(self) -> list[str]:
        """Settings that change training beyond the usual line, for the run headers."""
        extras = [f"augment {self.augment:g}"] if self.augment else []
        extras += [f"elastic {self.elastic:g} px"] if self.elastic else []
        return extras + (["compiled"] if self.compile else [])


FIELD_HELP = {
    "hidden": "hidden layer sizes, e.g. [512, 512]",
    "activation": "one of " + ", ".join(ACTIVATIONS),
    "dropout": "dropout after each hidden layer, 0 <= p < 1",
    "input_dropout": "dropout on the input pixels, 0 <= p < 1",
    "batch_norm": "true or false",
    "init": "one of " + ", ".join(INITS),
    "loss": "one of " + ", ".join(LOSSES),
    "optimizer": "one of " + ", ".join(OPTIMIZERS),
    "lr": "learning rate, a number > 0",
    "momentum": "momentum for sgd-style optimizers, 0 <= m < 1",
    "schedule": "one of " + ", ".join(SCHEDULES),
    "weight_decay": "a number >= 0",
    "l1": "L1 penalty on the weights, a number >= 0",
    "batch_size": "an integer >= 1",
    "epochs": "an integer >= 1",
    "val_split": "fraction of the 60k training images kept for validation, 0 <= f <= 0.5",
    "patience": "epochs without improvement before stopping early, 0 = never",
    "seed": "an integer",
    "device": "auto, cpu, cuda, cuda:N or mps",
    "subset": "train on only this many images (0 = all), for quick experiments",
    "augment": "random rotation/scale/shift of training digits, strength 0 (off) to 1 (15 deg, 15 %, 3 px)",
    "elastic": "elastic distortion of training digits, up to this many pixels, 0 (off) to 4",
    "compile": "true or false: torch.compile the model (worth it on a GPU; slow to start on a CPU)",
}

FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}


CLI_SOURCE = "command line"


def _where(source: str | None, key: str) -> str:
    if source == CLI_SOURCE:
        return f"option {cli_flag(key)}"
    return f"{source}: key '{key}'" if source else f"'{key}'"


def _coerce(key: str, value: Any, source: str | None) -> Any:
    """Check one value's type and range; return it in canonical form."""
    where = _where(source, key)
    want = FIELD_HELP[key]

    def bad(problem: str) -> ConfigError:
        return ConfigError(f"{where}: {problem}; expected {want}")

    if key == "hidden":
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            try:
                value = [int(p) for p in parts]
            except ValueError:
                raise bad(f"{value!r} is not a list of integers") from None
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise bad(f"{value!r} is not a list of integers")
        if len(value) > MAX_LAYERS:
            raise bad(f"{len(value)} hidden layers is more than the {MAX_LAYERS} allowed")
        for v in value:
            if v < 1 or v > MAX_HIDDEN:
                raise bad(f"hidden size {v} is out of range 1..{MAX_HIDDEN}")
        return tuple(value)

    default = FIELDS[key].default
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad(f"{value!r} is not true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad(f"{value!r} is not an integer")
        low = {"batch_size": 1, "epochs": 1, "patience": 0, "subset": 0}.get(key)
        if low is not None and value < low:
            raise bad(f"{value} is too small")
        if key == "epochs" and value > 100_000:
            raise bad(f"{value} is too large")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad(f"{value!r} is not a number")
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise bad(f"{value} is not a finite number")
        if key == "lr" and value <= 0:
            raise bad(f"{value} is not > 0")
        if key == "augment" and not 0 <= value <= 1:
            raise bad(f"{value} is out of range")
        if key == "elastic" and not 0 <= value <= 4:
            raise bad(f"{value} is out of range")
        if key in ("dropout", "input_dropout", "momentum") and not 0 <= value < 1:
            raise bad(f"{value} is out of range")
        if key in ("weight_decay", "l1") and value < 0:
            raise bad(f"{value} is negative")
        if key == "val_split" and not 0 <= value <= 0.5:
            raise bad(f"{value} is out of range")
        return value
    # Strings with a fixed set of choices.
    if not isinstance(value, str):
        raise bad(f"{value!r} is not a string")
    value = value.strip().lower()
    choices = {
        "activation": ACTIVATIONS,
        "loss": LOSSES,
        "optimizer": OPTIMIZERS,
        "init": INITS,
        "schedule": SCHEDULES,
    }.get(key)
    if key == "loss":
        value = {"ce": "cross-entropy", "cross_entropy": "cross-entropy", "crossentropy": "cross-entropy"}.get(
            value, value
        )
    if choices is not None and value not in choices:
        raise bad(f"unknown value {value!r}{_suggest(value, choices)}")
    if key == "device" and not _valid_device(value):
        raise bad(f"unknown device {value!r}")
    return value


def _valid_device(value: str) -> bool:
    if value in DEVICES:
        return True
    kind, _, index = value.partition(":")
    # Only what torch.device accepts: ASCII digits, no leading zero ("cuda:01" and "cuda:٣" are
    # refused by torch with a RuntimeError), and an index torch can parse.
    return kind == "cuda" and re.fullmatch(r"0|[1-9][0-9]{0,3}", index) is not None


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def build_config(values: dict[str, Any], source: str | None = None, base: RunConfig | None = None) -> RunConfig:
    """Validate `values` (keys must be RunConfig fields) on top of `base`."""
    base = base or RunConfig()
    clean = {}
    for key, value in values.items():
        if key not in FIELDS:
            allowed = ", ".join(FIELDS)
            raise ConfigError(
                f"{_where(source, key)}: unknown key{_suggest(key, list(FIELDS))}; allowed keys: {allowed}"
            )
        clean[key] = _coerce(key, value, source)
    return dataclasses.replace(base, **clean)


@dataclass(frozen=True)
class Preset:
    name: str
    path: Path
    description: str
    source: str
    expected: str
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> RunConfig:
        return build_config(self.values, source=str(self.path))


def builtin_preset_dir() -> Path:
    # A source checkout (and `pip install -e .`) reads the top-level presets/ folder; a wheel
    # carries the same files as package data in mlp_tui/presets.
    here = Path(__file__).resolve().parent
    checkout = here.parent / "presets"
    return checkout if checkout.is_dir() else here / "presets"


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
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such preset file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a preset file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a TOML file (not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise ConfigError(f"{path}: not valid TOML: arrays or tables nested too deeply") from None
    meta = {}
    for key in META_KEYS:
        if key in data:
            value = data.pop(key)
            if not isinstance(value, str):
                raise ConfigError(f"{_where(str(path), key)}: {value!r} is not a string")
            meta[key] = value
    preset = Preset(
        name=path.stem,
        path=path,
        description=meta.get("description", ""),
        source=meta.get("source", ""),
        expected=meta.get("expected", ""),
        values=data,
    )
    preset.config  # validate now, so a bad preset is caught before anything trains
    return preset


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
        f"unknown preset '{name_or_path}'{_suggest(name_or_path, names)}; "
        f"available: {', '.join(names)} (or a path to a .toml file)"
    )


def to_toml(config: RunConfig, meta: dict[str, str] | None = None) -> str:
    """The config as a preset file, so a run directory's config can be fed back to --preset."""
    lines = []
    for key, value in (meta or {}).items():
        lines.append(f"{key} = {_toml_value(value)}")
    if lines:
        lines.append("")
    for key, value in config.to_dict().items():
        lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


# A good first learning rate per optimizer. Plain SGD-style updates with an MSE loss on softmax
# outputs see gradients about ten times smaller than with cross-entropy, so they want more.
SUGGESTED_LR = {
    "sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adam": 0.002, "adamw": 0.002,
    "rmsprop": 0.001, "adagrad": 0.02, "adadelta": 1.0,
}  # fmt: skip


def suggested_lr(optimizer: str, loss: str) -> float:
    lr = SUGGESTED_LR[optimizer]
    if loss == "mse" and optimizer in ("sgd", "momentum", "nesterov", "adagrad"):
        lr *= 4
    return lr


def cli_flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def override_flags(config: RunConfig, base: RunConfig) -> list[str]:
    """CLI flags that turn `base` into `config`: used to print the reproducing command."""
    flags = []
    for key, value in config.to_dict().items():
        if value == base.to_dict()[key]:
            continue
        if isinstance(value, bool):
            flags.append(cli_flag(key) if value else "--no-" + key.replace("_", "-"))
        elif isinstance(value, list):
            flags += [cli_flag(key), ",".join(str(v) for v in value)]
        else:
            flags += [cli_flag(key), str(value)]
    return flags
