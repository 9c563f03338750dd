"""What the commands share: the usual options, and turning bad input into one line and exit 2."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from mlp_tui.core.config import OPTIONS, ConfigError
from mlp_tui.core.errors import EXIT_USAGE
from mlp_tui.core.presets import list_presets

DEFAULT_PRESET = "dropout"


def _preset_names(incomplete: str) -> list[str]:
    return [p.name for p in list_presets() if p.name.startswith(incomplete)]


PresetOption = Annotated[
    str, typer.Option("--preset", "-p", help="Preset name or path to a .toml file.", autocompletion=_preset_names)
]
DataDir = Annotated[
    Path | None,
    typer.Option(help="Folder holding the datasets in torchvision's layout (MNIST/raw, FashionMNIST/raw, "
                      "KMNIST/raw); default: $MLP_TUI_DATA, else the user cache."),
]  # fmt: skip
RunsRoot = Annotated[Path, typer.Option("--runs", help="Parent folder of the run directories.")]
DeviceOption = Annotated[str | None, typer.Option(help=OPTIONS["device"].help.capitalize() + " (default: auto).")]
RunArgument = Annotated[str, typer.Argument(metavar="RUN", help="A run directory, its name under --runs, or `latest`.")]


def fail(message: str, code: int = EXIT_USAGE) -> None:
    typer.echo(f"mlp-tui: error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn bad input (config, data, device, checkpoint) into a one-line message and exit 2."""
    from mlp_tui.core.errors import EXIT_FAILED, DataError, DeviceError, DiskFullError
    from mlp_tui.runs.status import RunNotFound
    from mlp_tui.runs.store import CheckpointError

    try:
        yield
    except (ConfigError, CheckpointError, RunNotFound, DataError, DeviceError) as exc:
        fail(str(exc))
    except DiskFullError as exc:  # not bad input: what is kept and how to go on, exit 1
        typer.echo(f"mlp-tui: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    except BrokenPipeError:  # `| head` stopped reading: nothing went wrong
        sys.stderr.close()
        raise typer.Exit(0) from None
    except OSError as exc:  # e.g. an unwritable --runs folder, a full disk
        where = f"{exc.filename}: " if exc.filename else ""
        fail(f"{where}{exc.strerror or exc}")


def interactive() -> bool:
    """The app needs a terminal on both ends (not nohup, a pipe or a log file)."""
    return sys.stdin.isatty() and sys.stdout.isatty()
