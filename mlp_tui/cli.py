"""Command line: `mlp-tui` (the app), `mlp-tui run`, `mlp-tui presets`.

Heavy imports (torch, textual) happen inside the commands, so --help and `presets` are instant.
"""

from __future__ import annotations

import contextlib
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from .config import ConfigError, build_config, list_presets, override_flags, resolve_preset

app = typer.Typer(
    add_completion=False,
    help="Train multilayer perceptrons on MNIST and watch them learn, in your terminal.",
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_PRESET = "dropout"


def fail(message: str, code: int = EXIT_USAGE) -> None:
    typer.echo(f"mlp-tui: error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def user_errors():
    """Turn bad input (config, data, device, checkpoint) into a one-line message and exit 2."""
    from .runinfo import RunNotFound
    from .runs import CheckpointError

    try:
        yield
    except (ConfigError, CheckpointError, RunNotFound) as exc:
        fail(str(exc))
    except RuntimeError as exc:
        # DataError and DeviceError live in torch-importing modules; match them by name so this
        # module stays light.
        if type(exc).__name__ in ("DataError", "DeviceError"):
            fail(str(exc))
        raise


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    preset: str = typer.Option(DEFAULT_PRESET, "--preset", "-p", help="Preset selected when the app opens."),
    data_dir: Optional[Path] = typer.Option(
        None, help="Folder holding MNIST/raw (default: $MLP_TUI_DATA, else the user cache)."
    ),
    runs_root: Path = typer.Option(Path("runs"), "--runs", help="Parent folder for new run directories."),
) -> None:
    """With no command, open the interactive app: pick a preset, adjust, press ctrl+r to train."""
    if ctx.invoked_subcommand is not None:
        return
    with user_errors():
        chosen = resolve_preset(preset)
        open_app(chosen, None, autostart=False, data_dir=data_dir, runs_root=runs_root)


def open_app(chosen, config, *, autostart: bool, data_dir: Optional[Path], runs_root: Path) -> None:
    from .tui.app import create_app

    presets = list_presets()
    if chosen.name not in {p.name for p in presets}:
        presets.append(chosen)  # a preset given by path joins the list
    app_ = create_app(chosen.name, config, autostart=autostart, data_dir=data_dir, runs_root=runs_root, presets=presets)
    app_.run()


@app.command()
def presets() -> None:
    """List the presets: built-in ones and your own."""
    with user_errors():
        found = list_presets()
    rows = [(p.name, p.config.architecture, p.config.loss, p.config.optimizer, p.expected, p.description) for p in found]
    headers = ("name", "architecture", "loss", "optimizer", "expected", "description")
    widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) if rows else len(headers[i]) for i in range(4)]
    typer.echo("  ".join(h.ljust(w) for h, w in zip(headers[:4], widths)) + "  expected / description")
    for row in rows:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row[:4], widths)) + f"  {row[4]}")
        typer.echo(" " * (sum(widths) + 8) + f"  {row[5]}")
    from .config import preset_dirs

    typer.echo(f"\nAdd your own: a .toml file in {preset_dirs()[-1]}, or pass --preset path/to/file.toml")


def _overrides(**options) -> dict:
    return {k: v for k, v in options.items() if v is not None}


@app.command()
def run(
    preset: str = typer.Option(DEFAULT_PRESET, "--preset", "-p", help="Preset name or path to a .toml file."),
    headless: bool = typer.Option(False, "--headless", help="No app: print progress (plain lines in a log)."),
    epochs: Optional[int] = typer.Option(None, help="Number of epochs."),
    lr: Optional[float] = typer.Option(None, help="Learning rate (the peak with --schedule onecycle)."),
    loss: Optional[str] = typer.Option(None, help="nll, cross-entropy or mse."),
    optimizer: Optional[str] = typer.Option(
        None, help="sgd, momentum, nesterov, adam, adamw, rmsprop, adagrad or adadelta."
    ),
    batch_size: Optional[int] = typer.Option(None, help="Images per batch."),
    hidden: Optional[str] = typer.Option(None, help="Hidden layer sizes, e.g. 512,512."),
    activation: Optional[str] = typer.Option(
        None, help="relu, sigmoid, tanh, elu, leaky_relu, gelu, silu or mish."
    ),
    dropout: Optional[float] = typer.Option(None, help="Dropout after each hidden layer."),
    input_dropout: Optional[float] = typer.Option(None, help="Dropout on the input pixels."),
    batch_norm: Optional[bool] = typer.Option(None, "--batch-norm/--no-batch-norm", help="Batch normalisation."),
    init: Optional[str] = typer.Option(None, help="Weight init: default, kaiming, xavier or normal."),
    momentum: Optional[float] = typer.Option(None, help="Momentum for momentum/nesterov."),
    schedule: Optional[str] = typer.Option(None, help="Learning-rate schedule: none, onecycle or cosine."),
    weight_decay: Optional[float] = typer.Option(None, help="Weight decay."),
    l1: Optional[float] = typer.Option(None, help="L1 penalty on the weights."),
    val_split: Optional[float] = typer.Option(None, help="Fraction of training images held out for validation."),
    patience: Optional[int] = typer.Option(None, help="Stop after this many epochs without improvement (0: off)."),
    seed: Optional[int] = typer.Option(None, help="Random seed."),
    device: Optional[str] = typer.Option(None, help="auto, cpu, cuda, cuda:N or mps."),
    subset: Optional[int] = typer.Option(None, help="Train on only this many images (0: all)."),
    data_dir: Optional[Path] = typer.Option(
        None, help="Folder holding MNIST/raw (default: $MLP_TUI_DATA, else the user cache)."
    ),
    run_dir: Optional[Path] = typer.Option(None, help="Directory for this run (default: runs/<time>-<preset>)."),
    runs_root: Path = typer.Option(Path("runs"), "--runs", help="Parent folder for new run directories."),
) -> None:
    """Train a model. With --headless, print progress instead of opening the app."""
    values = _overrides(
        epochs=epochs, lr=lr, loss=loss, optimizer=optimizer, batch_size=batch_size, hidden=hidden,
        activation=activation, dropout=dropout, input_dropout=input_dropout, batch_norm=batch_norm,
        init=init, momentum=momentum, schedule=schedule, weight_decay=weight_decay, l1=l1,
        val_split=val_split, patience=patience, seed=seed, device=device, subset=subset,
    )  # fmt: skip
    with user_errors():
        chosen = resolve_preset(preset)
        config = build_config(values, source="command line", base=chosen.config)
        if run_dir is not None:
            _check_run_dir(run_dir)
        words = ["mlp-tui", "run", "--preset", preset, "--headless", *override_flags(config, chosen.config)]
        if "--seed" not in words:
            words += ["--seed", str(config.seed)]
        reproduce = shlex.join(words)
        if not headless:
            if run_dir is not None:
                fail("--run-dir works with --headless only; the app names its runs under --runs")
            open_app(chosen, config, autostart=True, data_dir=data_dir, runs_root=runs_root)
            return
        from .runner import run_headless

        code = run_headless(
            config, chosen.name, data_dir=data_dir, run_dir=run_dir, runs_root=runs_root, reproduce=reproduce
        )
    raise typer.Exit(code)


def _check_run_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--run-dir {path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()):
        raise ConfigError(f"--run-dir {path}: already holds files; choose a new directory")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
