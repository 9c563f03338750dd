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

from .config import ConfigError, build_config, cli_flag, list_presets, override_flags, resolve_preset
from .errors import EXIT_OK, EXIT_USAGE, exit_now

app = typer.Typer(
    add_completion=False,
    help="Train multilayer perceptrons on MNIST and watch them learn, in your terminal.",
    context_settings={"help_option_names": ["-h", "--help"]},
    # Plain help and usage errors: Rich's help panels pull in markdown-it and friends, half of
    # the start-up time of `mlp-tui --help`.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

DEFAULT_PRESET = "dropout"


def fail(message: str, code: int = EXIT_USAGE) -> None:
    typer.echo(f"mlp-tui: error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def user_errors():
    """Turn bad input (config, data, device, checkpoint) into a one-line message and exit 2."""
    from .errors import DataError, DeviceError
    from .runinfo import RunNotFound
    from .runs import CheckpointError

    try:
        yield
    except (ConfigError, CheckpointError, RunNotFound, DataError, DeviceError) as exc:
        fail(str(exc))
    except OSError as exc:  # e.g. an unwritable --runs folder, a full disk
        where = f"{exc.filename}: " if exc.filename else ""
        fail(f"{where}{exc.strerror or exc}")


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


def _interactive() -> bool:
    """The app needs a terminal on both ends (not nohup, a pipe or a log file)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def open_app(chosen, config, *, autostart: bool, data_dir: Optional[Path], runs_root: Path) -> None:
    if not _interactive():
        fail("the app needs a terminal; for logs and servers use: mlp-tui run --preset NAME --headless")
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
    augment: Optional[float] = typer.Option(
        None, help="Distort training digits on the fly (rotate/scale/shift), strength 0 to 1."
    ),
    elastic: Optional[float] = typer.Option(
        None, help="Elastic distortion of training digits, up to this many pixels (0 to 4)."
    ),
    compile: Optional[bool] = typer.Option(
        None, "--compile/--no-compile", help="torch.compile the model: faster on a GPU, slow to start on a CPU."
    ),
    data_dir: Optional[Path] = typer.Option(
        None, help="Folder holding MNIST/raw (default: $MLP_TUI_DATA, else the user cache)."
    ),
    run_dir: Optional[Path] = typer.Option(None, help="Directory for this run (default: runs/<time>-<preset>)."),
    runs_root: Path = typer.Option(Path("runs"), "--runs", help="Parent folder for new run directories."),
    resume: Optional[str] = typer.Option(
        None, help="Continue a stopped, interrupted or killed run: its directory, its name under --runs, or 'latest'."
    ),
) -> None:
    """Train a model. With --headless, print progress instead of opening the app."""
    values = _overrides(
        epochs=epochs, lr=lr, loss=loss, optimizer=optimizer, batch_size=batch_size, hidden=hidden,
        activation=activation, dropout=dropout, input_dropout=input_dropout, batch_norm=batch_norm,
        init=init, momentum=momentum, schedule=schedule, weight_decay=weight_decay, l1=l1,
        val_split=val_split, patience=patience, seed=seed, device=device, subset=subset, augment=augment,
        elastic=elastic, compile=compile,
    )  # fmt: skip
    with user_errors():
        if resume is not None:
            values.pop("device", None)
            if values or run_dir is not None:
                flags = " ".join(cli_flag(k) for k in values) or "--run-dir"
                fail(f"--resume continues a run exactly as it was configured; drop {flags}")
            code = _resume(resume, headless, device=device, data_dir=data_dir, runs_root=runs_root)
            raise typer.Exit(code)
        chosen = resolve_preset(preset)
        config = build_config(values, source="command line", base=chosen.config)
        if run_dir is not None:
            _check_run_dir(run_dir)
        words = ["mlp-tui", "run", "--preset", preset, "--headless", *override_flags(config, chosen.config)]
        if "--seed" not in words:
            words += ["--seed", str(config.seed)]
        reproduce = shlex.join(words)
        if not headless and not _interactive():
            typer.echo("mlp-tui: not a terminal, so training headless (add --headless to say so)", err=True)
            headless = True
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


@app.command()
def watch(
    run: str = typer.Argument("latest", help="A run directory, its name under --runs, or 'latest'."),
    runs_root: Path = typer.Option(Path("runs"), "--runs", help="Parent folder of the run directories."),
) -> None:
    """Watch a run live: its epochs so far, then each new one.

    For a run started with --headless on this server, say. Pause, resume and stop it from here;
    quitting leaves it running."""
    from .config import load_preset_file
    from .runinfo import resolve_run, summarize

    with user_errors():
        run_dir = resolve_run(run, runs_root)
        if not _interactive():
            fail(f"watch needs a terminal; in a script, read {run_dir / 'metrics.jsonl'} or use `mlp-tui runs`")
        config_file = run_dir / "config.toml"
        config = load_preset_file(config_file).config
        from .tui.app import create_app

        create_app(summarize(run_dir).preset, config, runs_root=runs_root, watch=run_dir).run()


def _resume(name: str, headless: bool, *, device, data_dir, runs_root: Path) -> int:
    from .runinfo import resolve_run
    from .runner import load_resume, run_headless

    run_dir = resolve_run(name, runs_root)
    resumed = load_resume(run_dir, device)
    if not headless and _interactive():
        from .tui.app import create_app

        # Checked and loaded here so problems show before the app opens; the training process
        # loads the checkpoints itself, so the app keeps only what it shows.
        preset, config = resumed.preset, resumed.config
        del resumed
        create_app(preset, config, autostart=True, data_dir=data_dir, runs_root=runs_root, resume=run_dir).run()
        return EXIT_OK
    reproduce = shlex.join(["mlp-tui", "run", "--preset", str(run_dir / "config.toml"), "--headless"])
    return run_headless(resumed.config, resumed.preset, data_dir=data_dir, run_dir=run_dir, runs_root=runs_root,
                        reproduce=reproduce, resume=resumed)  # fmt: skip


# -- runs, eval, predict: look into saved runs (non-CLI logic in runinfo, evaluate, digit_input) --


@app.command("runs")
def list_runs(
    runs_root: Path = typer.Option(Path("runs"), "--runs", help="Parent folder of the run directories."),
) -> None:
    """List the runs, newest first: status, epochs, best validation and test accuracy."""
    from . import runs_table

    rows = runs_table.run_rows(runs_root)
    if not rows:
        typer.echo(f"No runs in {runs_root} yet. Start one with `mlp-tui run --headless` (or just `mlp-tui`).")
        return
    if sys.stdout.isatty():
        runs_table.print_rich(rows, runs_root)
    else:
        runs_table.print_plain(rows)


RUN_ARGUMENT_HELP = "A run directory, its name under --runs, or `latest`."
DEVICE_HELP = "auto, cpu, cuda, cuda:N or mps (default: auto)."


@app.command("eval")
def eval_run(
    run_name: str = typer.Argument(..., metavar="RUN", help=RUN_ARGUMENT_HELP),
    runs_root: Path = typer.Option(Path("runs"), "--runs", help="Parent folder of the run directories."),
    data_dir: Optional[Path] = typer.Option(
        None, help="Folder holding MNIST/raw (default: $MLP_TUI_DATA, else the user cache)."
    ),
    device: Optional[str] = typer.Option(None, help=DEVICE_HELP),
) -> None:
    """Test a run's best weights (best.pt) on the MNIST test set and print the report."""
    import shutil

    with user_errors():
        from .runinfo import resolve_run

        run_dir = resolve_run(run_name, runs_root)
        from .evaluate import eval_report, evaluate_run, load_run
        from .render import wants_ascii

        loaded = load_run(run_dir, device)
        finished, test = evaluate_run(loaded, data_dir)
    width = max(60, shutil.get_terminal_size((100, 24)).columns)
    typer.echo(eval_report(loaded, finished, test, width=width, ascii=wants_ascii()).rstrip())


@app.command("predict")
def predict_digit(
    run_name: str = typer.Argument(..., metavar="RUN", help=RUN_ARGUMENT_HELP),
    image: Path = typer.Argument(
        ..., metavar="IMAGE", help="One digit: a PNG or JPEG picture or a .npy array, light or dark background."
    ),
    runs_root: Path = typer.Option(Path("runs"), "--runs", help="Parent folder of the run directories."),
    device: Optional[str] = typer.Option(None, help=DEVICE_HELP),
) -> None:
    """Read a handwritten digit from a picture with a run's best weights."""
    with user_errors():
        from .digit_input import ImageError, load_digit
        from .runinfo import resolve_run

        run_dir = resolve_run(run_name, runs_root)
        try:
            digit = load_digit(image)
        except ImageError as exc:
            fail(str(exc))
        from .evaluate import load_run, predict
        from .render import digit_lines, probability_lines, wants_ascii

        loaded = load_run(run_dir, device)
        probs = predict(loaded, digit.pixels)
    ascii = wants_ascii()
    art, bars = digit_lines(digit.pixels, ascii), probability_lines(probs, ascii=ascii)
    while art and not art[0].strip():  # the digit sits in a 20x20 box: drop the blank margin
        art.pop(0)
    while art and not art[-1].strip():
        art.pop()
    height = max(len(art), len(bars))
    art_top, bars_top = (height - len(art)) // 2, (height - len(bars)) // 2
    typer.echo(loaded.header())
    if loaded.note:
        typer.echo(loaded.note)
    typer.echo(f"input {image}: {digit.describe()}")
    typer.echo()
    for i in range(height):
        left = art[i - art_top] if 0 <= i - art_top < len(art) else ""
        right = bars[i - bars_top] if 0 <= i - bars_top < len(bars) else ""
        typer.echo(f"{left:<28}    {right}".rstrip())
    best = max(range(len(probs)), key=probs.__getitem__)
    typer.echo()
    typer.echo(f"prediction: {best} ({probs[best] * 100:.1f} %)")


def _check_run_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--run-dir {path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()):
        raise ConfigError(f"--run-dir {path}: already holds files; choose a new directory")


def main() -> None:
    try:
        app()
    except SystemExit as exc:
        if "torch" not in sys.modules:
            raise
        code = exc.code
        if code is not None and not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
        exit_now(code or 0)


if __name__ == "__main__":
    main()
