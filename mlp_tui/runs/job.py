"""A `Job`: what a run needs (config, preset, where its data and directory are), plain enough to
travel as one JSON line to a training child process or a pool worker. No torch here: the app
builds jobs without loading it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mlp_tui.core.config import RunConfig, build_config


@dataclass(frozen=True)
class Job:
    """One run to start (or continue, with `resume`)."""

    config: RunConfig
    preset: str
    data_dir: Path | None = None
    runs_root: Path = Path("runs")
    run_dir: Path | None = None  # a given directory (--run-dir, a comparison's member); else a new one
    resume: Path | None = None  # continue this run directory from its last.pt
    reproduce: str | None = None  # the command report.txt ends with
    threads: int = 0  # the most CPU threads this run may use (0: all cores); a pool divides the cores
    # The run directory this one is a working copy of (a cluster worker's scratch copy, streamed
    # back): the run names it, and the copy is the caller's own (no live owner to look for).
    copy_of: Path | None = None

    def to_json(self) -> str:
        as_text = lambda p: None if p is None else str(p)  # noqa: E731
        return json.dumps(
            {"config": self.config.to_dict(), "preset": self.preset, "data_dir": as_text(self.data_dir),
             "runs_root": str(self.runs_root), "run_dir": as_text(self.run_dir), "resume": as_text(self.resume),
             "reproduce": self.reproduce, "threads": self.threads, "copy_of": as_text(self.copy_of)}
        )  # fmt: skip

    @classmethod
    def from_json(cls, line: str) -> Job:
        raw = json.loads(line)
        as_path = lambda v: None if v is None else Path(v)  # noqa: E731
        return cls(
            build_config(raw["config"]), raw["preset"], as_path(raw.get("data_dir")),
            Path(raw.get("runs_root", "runs")), as_path(raw.get("run_dir")), as_path(raw.get("resume")),
            raw.get("reproduce"), int(raw.get("threads", 0)), as_path(raw.get("copy_of")),
        )  # fmt: skip
