"""A comparison directory: `compare.toml` (the grid: every variant's full config and the seeds)
beside one ordinary run directory per variant and seed.

    runs/20261124-101500-compare/
        compare.toml  leaderboard.md  leaderboard.csv  driver.json  control
        01-nll-seed0/  01-nll-seed1/  02-mse-seed0/  ...   (each a normal run directory)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlp_tui.core.config import ConfigError, RunConfig, build_config
from mlp_tui.core.presets import toml_value
from mlp_tui.runs.compare.grid import Variant, seeds_for
from mlp_tui.runs.store import atomic_write_bytes, new_run_dir

PLAN_FILE = "compare.toml"
DRIVER_FILE = "driver.json"  # pid and host of the process running the pool
LEADERBOARD_MD = "leaderboard.md"
LEADERBOARD_CSV = "leaderboard.csv"


@dataclass(frozen=True)
class Member:
    """One run of a comparison: a variant trained with one seed, in its own directory."""

    index: int  # the variant's position in the grid
    variant: Variant
    seed: int
    path: Path

    @property
    def config(self) -> RunConfig:
        return build_config({"seed": self.seed}, base=self.variant.config)


@dataclass(frozen=True)
class Plan:
    variants: list[Variant]
    seeds: int
    vary: list[str]  # the --vary axes as given (for the header and the summary)
    description: str = ""

    @property
    def axes(self) -> list[str]:
        """The settings the variants differ in (the preset too, when there are several)."""
        keys = [text.partition("=")[0] for text in self.vary]
        return (["preset"] if len({v.preset for v in self.variants}) > 1 else []) + keys

    def members(self, folder: Path) -> list[Member]:
        return [
            Member(i, v, seed, Path(folder) / f"{i + 1:02d}-{v.slug}-seed{seed}")
            for i, v in enumerate(self.variants)
            for seed in seeds_for(v.config, self.seeds)
        ]

    @property
    def size(self) -> int:
        return len(self.variants) * self.seeds


def new_comparison(plan: Plan, parent: Path, name: str = "compare") -> Path:
    """A new comparison directory `<time>-<name>` holding the plan; its members start when it is driven."""
    folder = new_run_dir(name, parent)
    write_plan(folder, plan)
    return folder


def plan_text(plan: Plan, folder: Path | None = None) -> str:
    where = f" {folder}" if folder else " DIR"
    lines = [
        "# A comparison made by mlp-tui compare: every variant's full config, each trained once per seed.",
        f"# Finish it: mlp-tui compare --resume{where}    Redo it anew: mlp-tui compare --preset{where}/{PLAN_FILE}",
        f"description = {toml_value(plan.description)}",
        f"seeds = {plan.seeds}",
        f"vary = {toml_value(plan.vary)}",
    ]
    for v in plan.variants:
        lines += ["", "[[variant]]", f"name = {toml_value(v.name)}", f"preset = {toml_value(v.preset)}"]
        lines += ["[variant.settings]"] + [f"{k} = {toml_value(_plain(x))}" for k, x in v.settings.items()]
        lines += ["[variant.config]"] + [f"{k} = {toml_value(x)}" for k, x in v.config.to_dict().items()]
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def write_plan(folder: Path, plan: Plan) -> None:
    atomic_write_bytes(Path(folder) / PLAN_FILE, plan_text(plan, folder).encode("utf-8"))


def is_plan_file(path: Path) -> bool:
    return Path(path).name == PLAN_FILE or _looks_like_plan(Path(path))


def _looks_like_plan(path: Path) -> bool:
    try:
        return path.is_file() and "[[variant]]" in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def read_plan(path: Path) -> Plan:
    """A compare.toml, checked: every variant's config is validated like a preset."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    raw = data.get("variant")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{path}: no [[variant]] tables; not a comparison file")
    seeds = data.get("seeds")
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise ConfigError(f"{path}: key 'seeds': expected an integer >= 1")
    variants = []
    for n, item in enumerate(raw, 1):
        source = f"{path}: variant {n}"
        if not isinstance(item, dict) or not isinstance(item.get("config"), dict):
            raise ConfigError(f"{source}: no [variant.config] table")
        config = build_config(item["config"], source=source)
        settings = dict(item.get("settings") or {})
        settings = {k: tuple(x) if isinstance(x, list) else x for k, x in settings.items()}
        variants.append(
            Variant(str(item.get("name", f"variant {n}")), str(item.get("preset", "custom")), config, settings)
        )
    vary = [str(x) for x in data.get("vary", [])]
    return Plan(variants, seeds, vary, str(data.get("description", "")))


def find_comparisons(root: Path) -> list[Path]:
    """Comparison directories under root, newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if (p / PLAN_FILE).is_file()]
    return sorted(found, key=lambda p: (p / PLAN_FILE).stat().st_mtime, reverse=True)


def resolve_comparison(name: str, root: Path) -> Path:
    """A comparison directory from a path (or its compare.toml), a name under root, or `latest`."""
    from mlp_tui.runs.status import resolve_dir

    if Path(name).name == PLAN_FILE:
        name = str(Path(name).parent)
    return resolve_dir(name, root, find_comparisons, lambda p: (p / PLAN_FILE).is_file(), "comparison",
                       "`mlp-tui compare --vary SETTING=A,B`")  # fmt: skip
