"""`mlp-tui compare`: a grid of variants × seeds, trained on a pool and ranked honestly; or runs
trained earlier, side by side (compare_show.py prints and opens both). Its setting options are the
run options (run_options.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlp_tui.cli.common import DataDir, RunsRoot, fail, interactive, user_errors
from mlp_tui.cli.compare_show import open_board_app, run_headless, show_existing
from mlp_tui.cli.run_options import given_settings
from mlp_tui.core.config import ConfigError, cli_flag
from mlp_tui.core.presets import resolve_preset

if TYPE_CHECKING:
    from mlp_tui.runs.compare.backends import Backend, ClusterSpec
    from mlp_tui.runs.compare.grid import Axis
    from mlp_tui.runs.compare.plan import Plan

DEFAULT_SEEDS = 3

# The options of `compare` besides the run settings, declared once here so the command reads short.
Runs = Annotated[list[str] | None, typer.Argument(
    metavar="[RUN]...", show_default=False,
    help="Runs trained earlier (directories, names under --runs, or globs) to show side by side.",
)]  # fmt: skip
Presets = Annotated[list[str] | None, typer.Option(
    "--preset", "-p", metavar="PRESET", show_default=False,
    help="Preset name or .toml file (repeat it to compare presets; a compare.toml redoes that comparison). "
    "Default: dropout.",
)]  # fmt: skip
Vary = Annotated[list[str] | None, typer.Option(
    metavar="SETTING=V1,V2", show_default=False,
    help="An axis: SETTING=V1,V2 (hidden=512/512,512 and lr_changes=none/6:0.01 use / between values). "
    "Repeat for a grid.",
)]  # fmt: skip
Seeds = Annotated[int, typer.Option(help="Runs per variant, with seeds SEED, SEED+1, …")]
Jobs = Annotated[
    int | None, typer.Option(help="Runs trained at once (default: the CPU cores, or 4 sharing a GPU).", min=1)
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Train more than 64 runs without asking.")]
Resume = Annotated[
    str | None, typer.Option(help="Finish a comparison: its directory, its name under --runs, or 'latest'.")
]
Headless = Annotated[bool, typer.Option("--headless", help="No app: a line per finished run, then the leaderboard.")]
Ray = Annotated[str | None, typer.Option(
    metavar="auto|ADDRESS", show_default=False,
    help="Train the runs on a Ray cluster: 'auto' (the one this machine is part of, else a Ray instance "
    "started here) or the head's ADDRESS. Needs the ray extra.",
)]  # fmt: skip
CpusPerRun = Annotated[float | None, typer.Option(
    metavar="N", min=0.01, show_default=False,
    help="With --ray: CPUs each run asks of the cluster (and its threads). Default 1.",
)]  # fmt: skip
GpusPerRun = Annotated[float | None, typer.Option(
    metavar="N", min=0, show_default=False,
    help="With --ray: GPUs each run asks of the cluster; 0.25 packs four runs on a GPU. Default 0.",
)]  # fmt: skip


def compare(
    runs: Runs = None,
    preset: Presets = None,
    vary: Vary = None,
    seeds: Seeds = DEFAULT_SEEDS,
    jobs: Jobs = None,
    yes: Yes = False,
    resume: Resume = None,
    headless: Headless = False,
    ray: Ray = None,
    cpus_per_run: CpusPerRun = None,
    gpus_per_run: GpusPerRun = None,
    data_dir: DataDir = None,
    runs_root: RunsRoot = Path("runs"),
    **settings: Any,
) -> None:
    """Compare settings side by side: every combination of the --vary axes, each trained once
    per seed, ranked by test accuracy (mean ± sd) with honest verdicts. Every run option applies
    to all variants."""
    from mlp_tui.runs.compare.grid import parse_axis
    from mlp_tui.runs.compare.plan import new_comparison

    values = given_settings(settings)
    with user_errors():
        if runs:
            if preset or vary or resume or values or ray:
                fail(
                    "runs trained earlier are compared as they are; drop --preset, --vary, --resume, --ray and settings"
                )
            raise typer.Exit(show_existing(runs, runs_root, headless))
        cluster = _cluster_spec(ray, cpus_per_run, gpus_per_run, jobs)
        device = values.get("device")
        if resume is not None:
            folder, plan = _resumed(resume, runs_root, values, planned=bool(preset or vary or seeds != DEFAULT_SEEDS))
        else:
            plan = _plan(preset or ["dropout"], [parse_axis(v) for v in vary or []], values, seeds, yes)
        headless = headless_wanted(headless)
        backend = _ready(plan, cluster, headless, data_dir, device)
        if resume is None:
            folder = new_comparison(plan, runs_root)
        if headless:
            raise typer.Exit(run_headless(folder, plan, jobs, data_dir, device, backend))
        open_compare_app(folder, plan, runs_root, data_dir, jobs=jobs, device=device, start=True, cluster=cluster)


def _resumed(name: str, runs_root: Path, values: dict[str, Any], *, planned: bool) -> tuple[Path, Plan]:
    """The comparison `--resume` finishes, and its plan; `planned`: a preset, axis or seeds given."""
    from mlp_tui.runs.compare.folder import driver_alive
    from mlp_tui.runs.compare.plan import PLAN_FILE, read_plan, resolve_comparison

    others = {k: v for k, v in values.items() if k != "device"}
    if others or planned:
        flags = " ".join(cli_flag(k) for k in others) or "--preset/--vary/--seeds"
        fail(f"--resume finishes a comparison as it was planned; drop {flags}")
    folder = resolve_comparison(name, runs_root)
    if driver_alive(folder):
        fail(f"comparison {folder} is still being trained; follow it with: mlp-tui watch {folder}")
    return folder, read_plan(folder / PLAN_FILE)


def headless_wanted(asked: bool) -> bool:
    """--headless, or no terminal to show the app in (then said on stderr)."""
    if not asked and not interactive():
        typer.echo("mlp-tui: not a terminal, so comparing headless (add --headless to say so)", err=True)
        return True
    return asked


def _ready(
    plan: Plan, cluster: ClusterSpec | None, headless: bool, data_dir: Path | None, device: str | None
) -> Backend | None:
    """The data checked where the runs will train, before the directory exists (a failed start
    leaves nothing); the cluster's backend where this process drives it."""
    if cluster is None:
        check_data(plan, data_dir, device)
        return None
    if not headless:  # the app's driver process joins the cluster: Ray stays out of the app's process
        return None
    from mlp_tui.runs.compare.backends.ray_backend import cluster_backend

    backend = cluster_backend(cluster)
    typer.echo("mlp-tui compare: checking the data on the cluster …")
    backend.check_data(list(dict.fromkeys(v.config.dataset for v in plan.variants)), data_dir)
    return backend


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
    variants = build_grid([(c.name, c.config) for c in chosen], axes, values, {c.name: c.config_on for c in chosen})
    if len(variants) < 2 and seeds < 2:
        raise ConfigError("nothing to compare: give --vary SETTING=A,B, several --preset, or --seeds 2 or more")
    check_size(variants, seeds, yes)
    return Plan(variants, seeds, [a.text for a in axes], f"presets {', '.join(names)}")


def check_data(plan: Plan, data_dir: Path | None, device: str | None = None) -> None:
    """Every device of the plan there, every dataset on disk and valid (downloaded once here, not
    by each worker): DeviceError or DataError, exit 2, before anything trains."""
    from mlp_tui.engine.data import ensure_dataset
    from mlp_tui.engine.model import pick_device

    for name in dict.fromkeys(device or v.config.device for v in plan.variants):
        pick_device(name)
    for dataset in dict.fromkeys(v.config.dataset for v in plan.variants):
        ensure_dataset(dataset, data_dir)


def open_compare_app(folder: Path, plan: Plan, runs_root: Path, data_dir: Path | None, *, jobs: int | None,
                      device: str | None, start: bool, cluster: ClusterSpec | None = None) -> None:  # fmt: skip
    from mlp_tui.runs.compare.board import Board

    drive = {"jobs": jobs, "device": device, "data_dir": data_dir, "cluster": cluster} if start else None
    open_board_app(Board(plan, folder), runs_root, drive=drive)
