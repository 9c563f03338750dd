"""What the app opens on: one value, built by `create_app` from the command line's choices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlp_tui.core.config import RunConfig
from mlp_tui.runs.compare.board import Board


@dataclass(frozen=True)
class Setup:
    """The setup screen: pick a preset, adjust any setting, start. `autostart`: train the
    preset (or `config`) straight away, the setup screen beneath for the next run."""

    preset: str
    config: RunConfig | None = None
    autostart: bool = False


@dataclass(frozen=True)
class Resume:
    """Continue the run in `run_dir` straight away (`mlp-tui run --resume`), the setup screen
    beneath for the next run."""

    run_dir: Path
    preset: str
    config: RunConfig


@dataclass(frozen=True)
class Watch:
    """Follow a run another process trains or trained (`mlp-tui watch`); `config`: its config.toml."""

    run_dir: Path
    preset: str
    config: RunConfig


@dataclass(frozen=True)
class Compare:
    """A comparison's curves and leaderboard. `drive`: start_driver's arguments, when this app
    is to train it (else another process does, or did)."""

    board: Board
    drive: dict[str, Any] | None = None


AppMode = Setup | Resume | Watch | Compare


def app_mode(
    preset: str,
    config: RunConfig | None,
    *,
    autostart: bool = False,
    resume: Path | None = None,
    watch: Path | None = None,
    compare: Board | None = None,
    drive: dict[str, Any] | None = None,
) -> AppMode:
    """The mode create_app's keywords describe; ValueError for a combination that means nothing."""
    if sum(x is not None for x in (resume, watch, compare)) > 1:
        raise ValueError("one of resume, watch and compare at a time")
    if drive is not None and compare is None:
        raise ValueError("drive trains a comparison: it needs compare")
    if compare is not None:
        return Compare(compare, drive)
    if (watch is not None or resume is not None) and config is None:
        raise ValueError("watching or resuming a run needs its config (the run's config.toml)")
    if watch is not None and config is not None:
        return Watch(watch, preset, config)
    if resume is not None and config is not None:
        if not autostart:
            raise ValueError("a resumed run starts straight away: resume needs autostart")
        return Resume(resume, preset, config)
    return Setup(preset, config, autostart)
