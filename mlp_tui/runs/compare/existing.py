"""`mlp-tui compare RUN RUN …`: runs trained earlier, side by side. Runs whose configs differ in
their seed only are one variant; variants are named by the settings that differ between them."""

from __future__ import annotations

from pathlib import Path

from mlp_tui.core.config import RunConfig, build_config
from mlp_tui.core.presets import load_preset_file
from mlp_tui.runs.compare.grid import SEPARATOR, Variant, value_text
from mlp_tui.runs.compare.plan import Member, Plan
from mlp_tui.runs.layout import CONFIG_FILE
from mlp_tui.runs.status import RunNotFound

IGNORED = ("seed", "device", "lr_suggested")  # not what makes a variant


def plan_from_runs(paths: list[Path]) -> tuple[Plan, list[Member]]:
    configs: list[tuple[Path, str, RunConfig]] = []
    for path in paths:
        config_file = Path(path) / CONFIG_FILE
        if not config_file.is_file():
            raise RunNotFound(f"{path}: not a run directory (it has no {CONFIG_FILE})")
        loaded = load_preset_file(config_file)
        configs.append((Path(path), _preset_name(loaded.description), loaded.config))
    groups: dict[tuple[tuple[str, str], ...], list[tuple[Path, str, RunConfig]]] = {}
    for path, preset, config in configs:
        key = tuple((k, str(v)) for k, v in config.to_dict().items() if k not in IGNORED)
        groups.setdefault(key, []).append((path, preset, config))
    dicts = [dict(key) for key in groups]
    differing = [k for k in dicts[0] if len({d[k] for d in dicts}) > 1]
    variants: list[Variant] = []
    members: list[Member] = []
    for index, runs in enumerate(groups.values()):
        path, preset, config = runs[0]
        settings = {k: getattr(config, k) for k in differing}
        name = SEPARATOR.join(value_text(k, settings[k]) for k in differing) or preset
        variant = Variant(name, preset, build_config({}, base=config), settings)
        variants.append(variant)
        members += [Member(index, variant, c.seed, p) for p, _, c in runs]
    seeds = max(len(runs) for runs in groups.values())
    return Plan(variants, seeds, [f"{k}=…" for k in differing], "runs compared side by side"), members


def _preset_name(description: str) -> str:
    """config.toml says "resolved config of run X (preset NAME)"."""
    if "(preset " in description:
        return description.rsplit("(preset ", 1)[1].rstrip(")")
    return "custom"
