"""Command line: `mlp-tui` (the app), `mlp-tui run`, `presets`, `watch`, `runs`; `compare` and the
commands that look without training (`eval`, `predict`, `weights`, `data`), `lr-find` and `lesson`
in modules of their own.

Heavy imports (torch, textual) happen inside the commands, so --help and `presets` are instant.
The options of `run` are made from the run settings' declarations in config.py, not listed here.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mlp_tui.cli.common import (  # fmt: skip
    DEFAULT_PRESET,
    DataDir,
    PresetOption,
    RunArgument,
    RunsRoot,
    fail,
    interactive,
    user_errors,
)
from mlp_tui.cli.compare import compare
from mlp_tui.cli.errors import Commands
from mlp_tui.cli.inspect import DATA_SETTINGS, data, eval_run, predict_digit, weights
from mlp_tui.cli.lesson import lesson
from mlp_tui.cli.lr_find import lr_find
from mlp_tui.cli.run_options import given_settings, with_setting_options
from mlp_tui.core.config import ConfigError, RunConfig, cli_flag
from mlp_tui.core.errors import EXIT_OK, exit_now
from mlp_tui.core.overrides import override_flags
from mlp_tui.core.presets import Preset, list_presets, preset_dirs, resolve_preset
from mlp_tui.core.run_files import CONFIG_FILE
from mlp_tui.text.terminal import use_ascii_streams
from mlp_tui.text.width import layout_width

app = typer.Typer(
    help="Train multilayer perceptrons on MNIST-format data and watch them learn, in your terminal.",
    context_settings={"help_option_names": ["-h", "--help"]},
    # Plain help and usage errors: Rich's help panels pull in markdown-it and friends, half of
    # the start-up time of `mlp-tui --help`.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    cls=Commands,  # the parser's own refusals in mlp-tui's one line, like every other message
)


@app.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    preset: PresetOption = DEFAULT_PRESET,
    data_dir: DataDir = None,
    runs_root: RunsRoot = Path("runs"),
) -> None:
    """With no command, open the interactive app: pick a preset, adjust, press ctrl+r to train."""
    if ctx.invoked_subcommand is not None:
        return
    with user_errors():
        chosen = resolve_preset(preset)
        open_app(chosen, None, autostart=False, data_dir=data_dir, runs_root=runs_root)


def open_app(
    chosen: Preset, config: RunConfig | None, *, autostart: bool, data_dir: Path | None, runs_root: Path
) -> None:
    if not interactive():
        fail("the app needs a terminal; for logs and servers use: mlp-tui run --preset NAME --headless")
    from mlp_tui.views.tui.app import create_app

    presets = list_presets()
    if chosen.name not in {p.name for p in presets}:
        presets.append(chosen)  # a preset given by path joins the list
    app_ = create_app(chosen.name, config, autostart=autostart, data_dir=data_dir, runs_root=runs_root, presets=presets)
    app_.run()


def presets(**settings: Any) -> None:
    """List the presets, built-in and your own, with the test accuracy to expect (on --dataset,
    MNIST by default)."""
    from mlp_tui.views.console.presets_table import preset_lines

    with user_errors():
        found = list_presets()
    width = min(layout_width(40), 100)  # longer lines are hard to read
    dataset = given_settings(settings).get("dataset", "mnist")
    typer.echo("\n".join(preset_lines(found, width, preset_dirs()[-1], dataset)))


# -- run: the training command; its setting options come from run_options ------------------------


def run(
    preset: PresetOption = DEFAULT_PRESET,
    headless: Annotated[
        bool, typer.Option("--headless", help="No app: print progress (plain lines in a log).")
    ] = False,
    data_dir: DataDir = None,
    run_dir: Annotated[
        Path | None, typer.Option(help="Directory for this run (default: runs/<time>-<preset>).")
    ] = None,
    runs_root: RunsRoot = Path("runs"),
    resume: Annotated[
        str | None,
        typer.Option(
            help="Continue a stopped, interrupted or killed run: its directory, its name under --runs, or 'latest'."
        ),
    ] = None,
    **settings: Any,
) -> None:
    """Train a model. With --headless, print progress instead of opening the app. Every setting
    of the preset can be changed with its option."""
    values = given_settings(settings)
    with user_errors():
        if resume is not None:
            device = values.pop("device", None)
            if values or run_dir is not None:
                flags = " ".join(cli_flag(k) for k in values) or "--run-dir"
                fail(f"--resume continues a run exactly as it was configured; drop {flags}")
            code = _resume(resume, headless, device=device, data_dir=data_dir, runs_root=runs_root)
            raise typer.Exit(code)
        chosen = resolve_preset(preset)
        config = chosen.with_options(values)
        if run_dir is not None:
            _check_run_dir(run_dir)
        run_flags = override_flags(config, chosen.flags_base(config.dataset))
        words = ["mlp-tui", "run", "--preset", preset, "--headless", *run_flags]
        if "--seed" not in words:
            words += ["--seed", str(config.seed)]
        reproduce = shlex.join(words)
        if not headless and not interactive():
            typer.echo("mlp-tui: not a terminal, so training headless (add --headless to say so)", err=True)
            headless = True
        if not headless:
            if run_dir is not None:
                fail("--run-dir works with --headless only; the app names its runs under --runs")
            open_app(chosen, config, autostart=True, data_dir=data_dir, runs_root=runs_root)
            return
        from mlp_tui.runs.job import Job
        from mlp_tui.views.console.headless import run_headless

        code = run_headless(Job(config, chosen.name, data_dir, runs_root, run_dir=run_dir, reproduce=reproduce))
    raise typer.Exit(code)


app.command()(with_setting_options(presets, ("dataset",)))
app.command()(with_setting_options(run))
app.command()(with_setting_options(compare))
app.command()(lesson)


@app.command()
def watch(run: RunArgument = "latest", runs_root: RunsRoot = Path("runs")) -> None:
    """Watch a run live (or a comparison: its curves and leaderboard): its epochs so far, then each new one.

    For a run started with --headless on this server, say. Pause, resume and stop it from here;
    quitting leaves it running."""
    from mlp_tui.core.presets import load_preset_file
    from mlp_tui.runs.compare.plan import PLAN_FILE
    from mlp_tui.runs.status import resolve_run, summarize

    with user_errors():
        comparison = next((p for p in (Path(run), runs_root / run) if (p / PLAN_FILE).is_file()), None)
        if comparison is not None:
            _watch_comparison(comparison, runs_root)
            return
        run_dir = resolve_run(run, runs_root)
        if not interactive():
            fail(f"watch needs a terminal; in a script, read {run_dir / 'metrics.jsonl'} or use `mlp-tui runs`")
        config_file = run_dir / CONFIG_FILE
        config = load_preset_file(config_file).config
        from mlp_tui.views.tui.app import create_app

        create_app(summarize(run_dir).preset, config, runs_root=runs_root, watch=run_dir).run()


def _watch_comparison(folder: Path, runs_root: Path) -> None:
    from mlp_tui.runs.compare.board import Board
    from mlp_tui.runs.compare.plan import PLAN_FILE, read_plan

    if not interactive():
        fail(f"watch needs a terminal; in a script, read {folder / 'leaderboard.md'} or use "
             f"`mlp-tui compare {folder} --headless`")  # fmt: skip
    from mlp_tui.views.tui.app import create_app

    create_app(runs_root=runs_root, compare=Board(read_plan(folder / PLAN_FILE), folder)).run()


def _resume(name: str, headless: bool, *, device: str | None, data_dir: Path | None, runs_root: Path) -> int:
    from mlp_tui.runs.job import Job
    from mlp_tui.runs.launch import load_resume
    from mlp_tui.runs.status import resolve_run
    from mlp_tui.views.console.headless import run_headless

    run_dir = resolve_run(name, runs_root)
    resumed = load_resume(run_dir, device)
    if not headless and interactive():
        from mlp_tui.views.tui.app import create_app

        # Checked and loaded here so problems show before the app opens; the training process
        # loads the checkpoints itself, so the app keeps only what it shows.
        preset, config = resumed.preset, resumed.config
        del resumed
        create_app(preset, config, autostart=True, data_dir=data_dir, runs_root=runs_root, resume=run_dir).run()
        return EXIT_OK
    reproduce = shlex.join(["mlp-tui", "run", "--preset", str(run_dir / CONFIG_FILE), "--headless"])
    job = Job(resumed.config, resumed.preset, data_dir, runs_root, resume=run_dir, reproduce=reproduce)
    del resumed  # launch loads the checkpoints again, into the trainer
    return run_headless(job)


# -- runs, eval, predict: look into saved runs (non-CLI logic in runinfo, evaluate, digit_input) --


@app.command("runs")
def list_runs(runs_root: RunsRoot = Path("runs")) -> None:
    """List the runs, newest first: status, epochs, best validation and test accuracy."""
    from mlp_tui.views.console import runs_table

    rows = runs_table.run_rows(runs_root)
    if not rows:
        typer.echo(f"No runs in {runs_root} yet. Start one with `mlp-tui run --headless` (or just `mlp-tui`).")
        return
    runs_table.print_table(rows, runs_root, terminal=sys.stdout.isatty())


app.command("eval")(eval_run)
app.command("predict")(predict_digit)
app.command("weights")(weights)
app.command()(with_setting_options(data, DATA_SETTINGS))
app.command("lr-find")(with_setting_options(lr_find))


def _check_run_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--run-dir {path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()):
        raise ConfigError(f"--run-dir {path}: already holds files; choose a new directory")


def main() -> None:
    use_ascii_streams()  # LANG=C and friends: every command's output in ASCII
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
