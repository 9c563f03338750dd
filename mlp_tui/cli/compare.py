"""`mlp-tui compare`: a grid of variants × seeds, trained on a pool and ranked honestly; or runs
trained earlier, side by side. Its setting options are the run options (run_options.py)."""

from __future__ import annotations

import glob
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlp_tui.cli.common import DataDir, RunsRoot, fail, interactive, user_errors
from mlp_tui.cli.run_options import given_settings
from mlp_tui.core.config import ConfigError, cli_flag
from mlp_tui.core.errors import EXIT_FAILED, EXIT_OK
from mlp_tui.core.presets import resolve_preset
from mlp_tui.text.render import counted

if TYPE_CHECKING:
    from mlp_tui.runs.compare.backends import Backend, ClusterSpec, MemberResult
    from mlp_tui.runs.compare.board import Board
    from mlp_tui.runs.compare.grid import Axis
    from mlp_tui.runs.compare.plan import Plan

DEFAULT_SEEDS = 3


def compare(
    runs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[RUN]...",
            show_default=False,
            help="Runs trained earlier (directories, names under --runs, or globs) to show side by side.",
        ),
    ] = None,
    preset: Annotated[
        list[str] | None,
        typer.Option(
            "--preset",
            "-p",
            metavar="PRESET",
            show_default=False,
            help="Preset name or .toml file (repeat it to compare presets; a compare.toml redoes "
            "that comparison). Default: dropout.",
        ),
    ] = None,
    vary: Annotated[
        list[str] | None,
        typer.Option(
            metavar="SETTING=V1,V2",
            show_default=False,
            help="An axis: SETTING=V1,V2 (hidden=512/512,512 and lr_changes=none/6:0.01 use / between values). "
            "Repeat for a grid.",
        ),
    ] = None,
    seeds: Annotated[int, typer.Option(help="Runs per variant, with seeds SEED, SEED+1, …")] = DEFAULT_SEEDS,
    jobs: Annotated[
        int | None, typer.Option(help="Runs trained at once (default: the CPU cores, or 4 sharing a GPU).", min=1)
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Train more than 64 runs without asking.")] = False,
    resume: Annotated[
        str | None, typer.Option(help="Finish a comparison: its directory, its name under --runs, or 'latest'.")
    ] = None,
    headless: Annotated[
        bool, typer.Option("--headless", help="No app: a line per finished run, then the leaderboard.")
    ] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            metavar="auto|ADDRESS",
            show_default=False,
            help="Train the runs on a Ray cluster: 'auto' (the one this machine is "
            "part of, else a Ray instance started here) or the head's ADDRESS. Needs the ray extra.",
        ),
    ] = None,
    cpus_per_run: Annotated[
        float | None,
        typer.Option(
            metavar="N",
            help="With --ray: CPUs each run asks of the cluster (and its threads). Default 1.",
            min=0.01,
            show_default=False,
        ),
    ] = None,
    gpus_per_run: Annotated[
        float | None,
        typer.Option(
            metavar="N",
            help="With --ray: GPUs each run asks of the cluster; 0.25 packs four runs on a GPU. Default 0.",
            min=0,
            show_default=False,
        ),
    ] = None,
    data_dir: DataDir = None,
    runs_root: RunsRoot = Path("runs"),
    **settings: Any,
) -> None:
    """Compare settings side by side: every combination of the --vary axes, each trained once
    per seed, ranked by test accuracy (mean ± sd) with honest verdicts. Every run option applies
    to all variants."""
    from mlp_tui.runs.compare.grid import parse_axis
    from mlp_tui.runs.compare.plan import new_comparison, read_plan, resolve_comparison

    values = given_settings(settings)
    with user_errors():
        if runs:
            if preset or vary or resume or values or ray:
                fail(
                    "runs trained earlier are compared as they are; drop --preset, --vary, --resume, --ray and settings"
                )
            raise typer.Exit(_show_existing(runs, runs_root, headless))
        cluster = _cluster_spec(ray, cpus_per_run, gpus_per_run, jobs)
        device = values.get("device")
        if resume is not None:
            others = {k: v for k, v in values.items() if k != "device"}
            if others or preset or vary or seeds != DEFAULT_SEEDS:
                flags = " ".join(cli_flag(k) for k in others) or "--preset/--vary/--seeds"
                fail(f"--resume finishes a comparison as it was planned; drop {flags}")
            folder = resolve_comparison(resume, runs_root)
            from mlp_tui.runs.compare.folder import driver_alive

            if driver_alive(folder):
                fail(f"comparison {folder} is still being trained; follow it with: mlp-tui watch {folder}")
            plan = read_plan(folder / "compare.toml")
        else:
            plan = _plan(preset or ["dropout"], [parse_axis(v) for v in vary or []], values, seeds, yes)
        if not headless and not interactive():
            typer.echo("mlp-tui: not a terminal, so comparing headless (add --headless to say so)", err=True)
            headless = True
        backend = None
        if cluster is None:
            _check_data(plan, data_dir, device)  # before the directory exists: a failed start leaves nothing
        elif headless:  # the app's driver process joins the cluster: Ray stays out of the app's process
            from mlp_tui.runs.compare.backends.ray_backend import cluster_backend

            backend = cluster_backend(cluster)
            typer.echo("mlp-tui compare: checking the data on the cluster …")
            backend.check_data(list(dict.fromkeys(v.config.dataset for v in plan.variants)), data_dir)
        if resume is None:
            folder = new_comparison(plan, runs_root)
        if headless:
            raise typer.Exit(_run_headless(folder, plan, jobs, data_dir, device, backend))
        _open_compare_app(folder, plan, runs_root, data_dir, jobs=jobs, device=device, start=True, cluster=cluster)


def _cluster_spec(ray: str | None, cpus: float | None, gpus: float | None, jobs: int | None) -> ClusterSpec | None:
    """--ray and what each run asks of the cluster; None for the local pool."""
    from mlp_tui.runs.compare.backends import ClusterSpec, require_ray

    if ray is None:
        if cpus is not None or gpus is not None:
            fail("--cpus-per-run and --gpus-per-run are for --ray; on this machine, --jobs sets how many run at once")
        return None
    if jobs is not None:
        fail("--jobs is for this machine's pool; on Ray, --cpus-per-run and --gpus-per-run decide how many run at once")
    if not ray.strip():
        fail("--ray: give 'auto' or the cluster's address (HOST:PORT)")
    require_ray()
    return ClusterSpec(ray.strip(), 1.0 if cpus is None else cpus, 0.0 if gpus is None else gpus)


def _plan(presets: list[str], axes: list[Axis], values: dict[str, Any], seeds: int, yes: bool) -> Plan:
    from mlp_tui.runs.compare.grid import build_grid, check_size
    from mlp_tui.runs.compare.plan import Plan, is_plan_file, read_plan

    if len(presets) == 1 and is_plan_file(Path(presets[0])):
        if axes or values or seeds != DEFAULT_SEEDS:
            raise ConfigError(f"--preset {presets[0]}: a comparison file is redone as it is; "
                              "drop --vary, --seeds and settings")  # fmt: skip
        return read_plan(Path(presets[0]))
    chosen = [resolve_preset(p) for p in presets]
    names = [c.name for c in chosen]
    if len(set(names)) != len(names):
        raise ConfigError(f"--preset {next(n for n in names if names.count(n) > 1)}: given twice")
    variants = build_grid([(c.name, c.config) for c in chosen], axes, values)
    if len(variants) < 2 and seeds < 2:
        raise ConfigError("nothing to compare: give --vary SETTING=A,B, several --preset, or --seeds 2 or more")
    check_size(variants, seeds, yes)
    return Plan(variants, seeds, [a.text for a in axes], f"presets {', '.join(names)}")


def _check_data(plan: Plan, data_dir: Path | None, device: str | None = None) -> None:
    """Every device of the plan there, every dataset on disk and valid (downloaded once here, not
    by each worker): DeviceError or DataError, exit 2, before anything trains."""
    from mlp_tui.engine.data import ensure_dataset
    from mlp_tui.engine.model import pick_device

    for name in dict.fromkeys(device or v.config.device for v in plan.variants):
        pick_device(name)
    for dataset in dict.fromkeys(v.config.dataset for v in plan.variants):
        ensure_dataset(dataset, data_dir)


def _stop_on_signals(stop: threading.Event, received: list[int]) -> dict[int, Any]:
    """Ctrl-C, SIGTERM or a hang-up sets `stop` (the members save); a second one leaves at once.
    The handlers they replace, to put back."""
    import signal

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) > 1:
            import os

            os._exit(128 + signum)  # the workers see their pipe close and save their members
        stop.set()

    return {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}


def _run_headless(
    folder: Path, plan: Plan, jobs: int | None, data_dir: Path | None, device: str | None, backend: Backend | None
) -> int:
    import signal

    from mlp_tui.runs.compare.driver import drive

    stop = threading.Event()
    received: list[int] = []
    previous = _stop_on_signals(stop, received)
    total = plan.size
    echo = lambda text="": typer.echo(text)  # noqa: E731

    todo_count = [total]

    def started(todo: int, where: str) -> None:
        todo_count[0] = todo
        echo(
            f"mlp-tui compare: {counted(len(plan.variants), 'variant')} × {counted(plan.seeds, 'seed')} = "
            f"{counted(total, 'run')} in {folder}"
        )
        echo("variants: " + "; ".join(v.name for v in plan.variants))
        if todo < total:
            echo(f"{counted(total - todo, 'run')} already finished; {todo} to go")
        if todo:
            echo(f"training {where}")

    finished: list[MemberResult] = []

    def done(result: MemberResult, board: Board) -> None:
        finished.append(result)
        m = result.member
        acc = "" if result.test_accuracy is None else f"  test {100 * result.test_accuracy:.2f} %"
        state = next(s for s in board.states if s.member.path == m.path)
        whole = state.reason == "disk-full"  # what is kept and the command to go on: never cut
        note = f"  ({result.message if whole else result.message[:120]})" if result.message and not result.ok else ""
        echo(f"[{len(finished) + total - todo_count[0]}/{total}] {m.variant.name}  seed {m.seed}  "
             f"{result.status}{acc}  {state.epochs_done} epochs, {state.seconds:.0f} s  "
             f"{m.path.name}{note}")  # fmt: skip

    try:
        board = drive(folder, plan, backend=backend, jobs=jobs, data_dir=data_dir, device=device, on_start=started,
                      on_done=done, should_stop=stop.is_set, check_data=False, on_note=echo)  # fmt: skip
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    echo()
    echo("\n".join(leaderboard_lines(board)))
    echo(f"Leaderboard: {folder / 'leaderboard.md'} and leaderboard.csv")
    left = _left_over(board, folder)
    for line in left:
        echo(line)
    if received:
        return 128 + received[0]
    return EXIT_FAILED if left else EXIT_OK


def leaderboard_lines(board: Board) -> list[str]:
    """The table, what it says in words and how the verdicts are reached, fitted to the width."""
    import textwrap

    from mlp_tui.runs.compare.leaderboard import table_lines, verdict_note
    from mlp_tui.text.width import layout_width

    width = layout_width()
    notes = [*board.summary(), verdict_note(board)]
    return table_lines(board, width) + [part for note in notes for part in textwrap.wrap(note, width) or [""]]


def _left_over(board: Board, folder: Path) -> list[str]:
    """What did not finish and what to do about it. A run a full disk stopped is sound in itself:
    `compare --resume` continues it, unlike one that failed for its own reasons."""
    disk = [s for s in board.states if s.status == "failed" and s.reason == "disk-full"]
    failed = [s for s in board.states if s.status == "failed" and s not in disk]
    unfinished = len(board.states) - board.finished - len(failed)
    lines = []
    if failed:
        lines.append(f"{counted(len(failed), 'run')} failed (see their report.txt or error.log): "
                     f"{', '.join(s.member.path.name for s in failed)}; "
                     "delete their directories to try them again")  # fmt: skip
    if unfinished:
        mend = "free some space, then " if disk else ""
        lines.append(
            f"{counted(unfinished, 'run')} not finished; "
            f"{mend}finish them with: mlp-tui compare --resume {folder} --headless"
        )
    return lines


def _show_existing(names: list[str], runs_root: Path, headless: bool) -> int:
    from mlp_tui.runs.compare.board import Board
    from mlp_tui.runs.compare.existing import plan_from_runs
    from mlp_tui.runs.compare.plan import PLAN_FILE
    from mlp_tui.runs.status import resolve_run

    paths: list[Path] = []
    for name in names:
        if glob.has_magic(name):
            matches = sorted(glob.glob(name)) or sorted(glob.glob(str(runs_root / name)))
            # A glob picks runs and comparisons; other files it matches are not meant
            matches = [m for m in matches if (Path(m) / "config.toml").is_file() or (Path(m) / PLAN_FILE).is_file()]
        else:
            matches = [name]
        if not matches:
            raise ConfigError(f"{name}: no runs match")
        for match in matches:
            if (Path(match) / PLAN_FILE).is_file():
                from mlp_tui.runs.compare.plan import read_plan

                if len(names) == 1 and len(matches) == 1:
                    plan = read_plan(Path(match) / PLAN_FILE)
                    return _show(Board(plan, Path(match)), Path(match), runs_root, headless)
                paths += [m.path for m in read_plan(Path(match) / PLAN_FILE).members(Path(match)) if m.path.is_dir()]
            else:
                paths.append(resolve_run(match, runs_root))
    paths = list(dict.fromkeys(p.resolve() for p in paths))
    if len(paths) < 2:
        raise ConfigError("give two or more runs to compare (or a comparison directory)")
    plan, members = plan_from_runs(paths)
    return _show(Board(plan, Path("."), members), None, runs_root, headless)


def _show(board: Board, folder: Path | None, runs_root: Path, headless: bool) -> int:
    board.update()
    if headless or not interactive():
        typer.echo("\n".join(leaderboard_lines(board)))
        return EXIT_OK
    _open_board_app(board, runs_root)
    return EXIT_OK


def _open_compare_app(folder: Path, plan: Plan, runs_root: Path, data_dir: Path | None, *, jobs: int | None,
                      device: str | None, start: bool, cluster: ClusterSpec | None = None) -> None:  # fmt: skip
    from mlp_tui.runs.compare.board import Board

    drive = {"jobs": jobs, "device": device, "data_dir": data_dir, "cluster": cluster} if start else None
    _open_board_app(Board(plan, folder), runs_root, drive=drive)


def _open_board_app(board: Board, runs_root: Path, drive: dict[str, Any] | None = None) -> None:
    from mlp_tui.views.tui.app import create_app

    create_app(runs_root=runs_root, compare=board, drive=drive).run()
