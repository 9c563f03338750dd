"""Run configuration: the dataclass, preset loading and validation with clear errors.

Imports nothing heavy (no torch) so `mlp-tui presets` and `--help` stay instant.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlp_tui.core.datasets import DATASET_NAMES, distortion_words
from mlp_tui.core.lr_changes import FORM as LR_CHANGES_FORM
from mlp_tui.core.lr_changes import HELP as LR_CHANGES_HELP
from mlp_tui.core.lr_changes import LrChange, format_lr_changes, parse_lr_changes, past_last_epoch
from mlp_tui.core.options import Option, option
from mlp_tui.core.setting_values import (  # noqa: F401  (parse_hidden, did_you_mean, DEVICES: part of the config API)
    DEVICES,
    MAX_HIDDEN,
    MAX_LAYERS,
    MAX_THREADS,
    device_name,
    did_you_mean,
    hidden_sizes,
    parse_hidden,
    thread_setting,
)
from mlp_tui.core.suggested_lr import SUGGESTED_LR, suggested_lr

ACTIVATIONS = ("relu", "sigmoid", "tanh", "elu", "leaky_relu", "gelu", "silu", "mish", "identity")
LOSSES = ("nll", "cross-entropy", "mse")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad", "adadelta")
INITS = ("default", "kaiming", "xavier", "normal", "zeros")
# How pixels reach the first layer; the run headers name the two that are not the usual one.
NORMALIZE_TEXT = {"standard": "", "unit": "inputs in [0,1]", "half": "inputs in [-1,1]"}
SCHEDULES = ("none", "onecycle", "cosine")
# What picks the best weights (and what --patience counts), and which split validation comes from.
MONITORS = ("val-accuracy", "val-loss")
VAL_SOURCES = ("train", "test")

# Keys a preset file may carry besides the run settings: they describe the preset.
META_KEYS = ("description", "source", "expected")


class ConfigError(ValueError):
    """Bad user input: a preset file, a key or a value. Shown without a traceback, exit 2."""


@dataclass(frozen=True)
class RunConfig:
    """Every run setting, declared once: the preset keys, the `run` options, the setup form's
    fields, validation and help are all made from these declarations."""

    dataset: str = option("mnist", "the MNIST-format dataset", label="Dataset", choices=DATASET_NAMES)
    hidden: tuple[int, ...] = option(
        (512, 512), f"hidden layer sizes, e.g. 512,512 (a preset says [512, 512]); each 1..{MAX_HIDDEN}",
        label="Hidden layers", low=1, high=MAX_HIDDEN,
    )  # fmt: skip
    activation: str = option(
        "relu", "activation of the hidden layers (identity: none, so the layers collapse to one linear map)",
        label="Activation", choices=ACTIVATIONS,
    )  # fmt: skip
    alpha: float = option(
        0.0, "negative slope of leaky_relu or alpha of elu; 0 keeps each one's own default (0.01 for "
        "leaky_relu, 1 for elu); other activations ignore it", title="Leaky slope / ELU alpha", low=0,
    )  # fmt: skip
    dropout: float = option(0.0, "dropout after each hidden layer", label="Dropout", low=0, below=1)
    input_dropout: float = option(0.0, "dropout on the input pixels", low=0, below=1)
    batch_norm: bool = option(False, "batch normalisation after each hidden layer")
    bias: bool = option(
        True, "give every layer a bias (--no-bias: weights only, like the perceptrons of textbooks)", title="Biases"
    )
    normalize: str = option(
        "standard", "how pixels are scaled for the first layer: standard (by the training images' mean and sd), "
        "unit (x/255: inputs in [0,1], like ToTensor) or half ((x/255-0.5)/0.5: inputs in [-1,1], like "
        "Normalize(0.5, 0.5))", title="Input scaling", choices=tuple(NORMALIZE_TEXT),
    )  # fmt: skip
    init: str = option(
        "default", "weight initialisation (zeros: every weight 0, so a layer's units stay identical)",
        title="Weight init", choices=INITS,
    )  # fmt: skip
    loss: str = option("cross-entropy", "the loss", label="Loss", choices=LOSSES)
    optimizer: str = option("adam", "the optimizer", label="Optimizer", choices=OPTIMIZERS)
    lr: float = option(
        1e-3, "learning rate (the peak with the onecycle schedule); a new optimizer or loss without one "
        "gets the rate suggested for it", label="Learning rate", above=0,
    )  # fmt: skip
    # Not an option: whether `lr` was suggested for the optimizer and loss rather than given, so
    # the run headers can say so (and a rerun of config.toml says so again).
    lr_suggested: bool = option(False, "the learning rate was suggested for the optimizer and loss", cli=False)
    momentum: float = option(0.9, "momentum of the momentum and nesterov optimizers", low=0, below=1)
    schedule: str = option("none", "learning-rate schedule", choices=SCHEDULES)
    lr_changes: tuple[LrChange, ...] = option((), LR_CHANGES_HELP, title="Rate changes")
    weight_decay: float = option(0.0, "weight decay", low=0)
    l1: float = option(0.0, "L1 penalty on the weights", low=0)
    batch_size: int = option(128, "images per batch", label="Batch size", low=1)
    epochs: int = option(10, "number of epochs", label="Epochs", low=1, high=100_000)
    val_split: float = option(
        0.1, "fraction of the images held out for validation: of the training images, or of the test images "
        "with --val-from test", title="Validation split", low=0, high=0.5,
    )  # fmt: skip
    val_from: str = option(
        "train", "where the validation images come from: train (held out of the training images, the usual "
        "practice) or test (held out of the test images, as some tutorials do: the rest is the test set, and "
        "choosing the best epoch on test images flatters the test result)",
        title="Validation from", choices=VAL_SOURCES,
    )  # fmt: skip
    monitor: str = option(
        "val-accuracy", "what picks the best weights (best.pt, tested at the end) and what --patience counts: "
        "val-accuracy (validation loss breaks ties) or val-loss (keep the weights whenever validation loss "
        "decreased; accuracy breaks ties)", title="Best weights by", choices=MONITORS,
    )  # fmt: skip
    patience: int = option(
        0, "stop after this many epochs without a better validation score, by --monitor (0: never)", low=0
    )
    log_every: int = option(
        0, "headless: a line every this many batches (loss and accuracy of the epoch so far, learning rate, "
        "images/s); 0: off", title="Log every (batches)", low=0,
    )  # fmt: skip
    seed: int = option(0, "random seed")
    device: str = option("auto", "auto, cpu, cuda, cuda:N or mps")
    threads: str = option(
        "auto", "CPU threads: auto (the count that trains fastest now, measured as it trains; a busy machine "
        "gets fewer) or a number; the same seed and thread count give the same numbers",
        label="CPU threads",
    )  # fmt: skip
    subset: int = option(0, "train on only this many images (0: all), for quick experiments", low=0)
    augment: float = option(
        0.0, "distort training digits on the fly: rotation up to 15 deg, scale 15 %, shift 3 px, times this",
        label="Distortion", low=0, high=1,
    )  # fmt: skip
    elastic: float = option(
        0.0, "bend training digits elastically by up to this many pixels", label="Elastic (px)", low=0, high=4
    )
    health: bool = option(True, "measure each layer's health every epoch and warn in plain words")
    compile: bool = option(False, "torch.compile the model (worth it on a GPU; slow to start on a CPU)")
    deterministic: bool = option(
        False, "on a GPU, deterministic algorithms only: the same seed gives the same numbers (a little slower)"
    )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["hidden"] = list(self.hidden)
        data["lr_changes"] = [list(change) for change in self.lr_changes]  # as TOML and JSON say it
        return data

    @property
    def architecture(self) -> str:
        return "-".join(str(n) for n in (784, *self.hidden, 10))

    @property
    def lr_text(self) -> str:
        """`lr 0.003`, or `lr 1 (suggested for adadelta)` when the rate was not given."""
        if not self.lr_suggested:
            return f"lr {self.lr:g}"
        scaled = suggested_lr(self.optimizer, self.loss) != SUGGESTED_LR[self.optimizer]
        return f"lr {self.lr:g} (suggested for {self.optimizer}{f' with {self.loss}' if scaled else ''})"

    def training_extras(self) -> list[str]:
        """Settings that change training beyond the usual line, for the run headers."""
        extras = [NORMALIZE_TEXT[self.normalize]] if NORMALIZE_TEXT[self.normalize] else []
        extras += [] if self.bias else ["no bias"]
        extras += ["zero init"] if self.init == "zeros" else []
        if self.alpha and self.activation in ("leaky_relu", "elu"):  # the only ones it changes
            extras.append(f"{self.activation} {'slope' if self.activation == 'leaky_relu' else 'alpha'} {self.alpha:g}")
        extras += [f"lr changes {format_lr_changes(self.lr_changes)}"] if self.lr_changes else []
        extras += distortion_words(self.dataset, self.augment, self.elastic)
        extras += ["best by validation loss"] if self.monitor == "val-loss" else []
        extras += ["compiled"] if self.compile else []
        return extras + (["deterministic"] if self.deterministic else [])


FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}
OPTIONS: dict[str, Option] = {name: f.metadata["option"] for name, f in FIELDS.items()}
CLI_OPTIONS = tuple(name for name, opt in OPTIONS.items() if opt.cli)
FORM_FIELDS = tuple(name for name, opt in OPTIONS.items() if opt.label)


def expected(key: str) -> str:
    """What a value of `key` must be, in words, for error messages."""
    opt, kind = OPTIONS[key], type(FIELDS[key].default)
    if opt.choices:
        return "one of " + ", ".join(opt.choices)
    if key == "hidden":
        return f"a list of layer sizes, each 1..{MAX_HIDDEN}, at most {MAX_LAYERS} layers"
    if key == "device":
        return opt.help
    if key == "threads":
        return f"auto or a number of threads, 1..{MAX_THREADS}"
    if key == "lr_changes":
        return LR_CHANGES_FORM
    noun = {bool: "true or false", int: "an integer", float: "a number"}[kind]
    bounds = opt.range_text()
    return f"{noun} {bounds}" if bounds.startswith((">", "<")) else f"{noun}, {bounds}" if bounds else noun


CLI_SOURCE = "command line"
FORM_SOURCE = "form"


def where(source: str | None, key: str) -> str:
    if source == CLI_SOURCE:
        return f"option {cli_flag(key)}"
    return f"{source}: key '{key}'" if source else f"'{key}'"


def _coerce(key: str, value: Any, source: str | None) -> Any:
    """Check one value's type and range; return it in canonical form."""
    opt = OPTIONS[key]

    def bad(problem: str) -> ConfigError:
        return ConfigError(f"{where(source, key)}: {problem}; expected {expected(key)}")

    parse = SPECIAL.get(key)
    if parse is not None:
        try:
            return parse(value)
        except ValueError as exc:
            raise bad(str(exc)) from None
    default = FIELDS[key].default
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad(f"{value!r} is not true or false")
        return value
    if isinstance(default, (int, float)):
        if isinstance(default, int) and (isinstance(value, bool) or not isinstance(value, int)):
            raise bad(f"{value!r} is not an integer")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad(f"{value!r} is not a number")
        value = type(default)(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise bad(f"{value} is not a finite number")
        if not opt.in_range(value):
            raise bad(f"{value} is out of range")
        return value
    if not isinstance(value, str):
        raise bad(f"{value!r} is not a string")
    value = value.strip().lower()
    if opt.choices and value not in opt.choices:
        raise bad(f"unknown value {value!r}{did_you_mean(value, opt.choices)}")
    return value


# Settings whose values have a form of their own (parsers raise ValueError naming the problem).
SPECIAL: dict[str, Callable[[Any], Any]] = {
    "hidden": hidden_sizes, "threads": thread_setting, "lr_changes": parse_lr_changes, "device": device_name,
}  # fmt: skip


def parse_text(key: str, text: str, source: str | None = FORM_SOURCE) -> Any:
    """A value typed as text (the setup form's fields) as the setting's own type."""
    kind = type(FIELDS[key].default)
    if kind in (int, float):
        try:
            return kind(text.strip())
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            raise ConfigError(f"{where(source, key)}: '{text}' is not {noun}; expected {expected(key)}") from None
    return text


def value_text(key: str, value: Any) -> str:
    """A setting's value as one types it after its `run` option (and in the setup form's field):
    the inverse of parse_text, `512,512` for layer sizes."""
    if key == "lr_changes":
        return format_lr_changes(value)
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def build_config(values: dict[str, Any], source: str | None = None, base: RunConfig | None = None) -> RunConfig:
    """Validate `values` (keys must be RunConfig fields) on top of `base`."""
    base = base or RunConfig()
    clean = {}
    for key, value in values.items():
        if key not in FIELDS:
            allowed = ", ".join(name for name in FIELDS if OPTIONS[name].cli)
            raise ConfigError(
                f"{where(source, key)}: unknown key{did_you_mean(key, list(FIELDS))}; allowed keys: {allowed}"
            )
        clean[key] = _coerce(key, value, source)
    config = dataclasses.replace(base, **clean)
    late = past_last_epoch(config.lr_changes, config.epochs)  # a change that would never happen
    if late:
        raise ConfigError(f"{where(source if 'lr_changes' in clean else None, 'lr_changes')}: {late}")
    if config.lr_suggested and config.lr != suggested_lr(config.optimizer, config.loss):
        config = dataclasses.replace(config, lr_suggested=False)  # a record that no longer holds
    return config


def cli_flag(key: str) -> str:
    return "--" + key.replace("_", "-")
