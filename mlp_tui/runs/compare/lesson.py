"""A lesson is a comparison plus its text: the plan its file describes, trained in an ordinary
comparison directory that also holds a copy of the lesson file (lesson.toml), so `compare`,
`watch`, `compare --resume` and every member tool work on it unchanged, and whoever shows the
comparison later shows the lesson and its answer too."""

from __future__ import annotations

from pathlib import Path

from mlp_tui.core.config import ConfigError
from mlp_tui.core.lessons import Lesson, load_lesson
from mlp_tui.core.presets import resolve_preset
from mlp_tui.runs.compare.grid import build_grid, parse_axis
from mlp_tui.runs.compare.plan import Plan, new_comparison
from mlp_tui.runs.store import atomic_write_bytes

LESSON_FILE = "lesson.toml"


def lesson_plan(lesson: Lesson, seeds: int | None = None) -> Plan:
    """The comparison that answers the lesson; ConfigError naming the file and key."""
    at = f"{lesson.path}: [compare]"
    presets = []
    for name in lesson.presets:
        try:
            presets.append(resolve_preset(name))
        except ConfigError as exc:
            raise ConfigError(f"{at}: key 'preset': {exc}") from None
    axes = []
    for text in lesson.vary:
        try:
            axes.append(parse_axis(text))
        except ConfigError as exc:
            raise ConfigError(f"{at}: key 'vary': {str(exc).removeprefix('--vary ')}") from None
    try:
        variants = build_grid([(p.name, p.config) for p in presets], axes, lesson.settings,
                              {p.name: p.config_on for p in presets})  # fmt: skip
    except ConfigError as exc:  # an axis given twice, or also as a setting: in the file's words
        said = str(exc).replace("--vary", "vary").replace("also given as", "also in settings as")
        raise ConfigError(f"{at}: {said}") from None
    if len(variants) < 2:
        raise ConfigError(f"{at}: key 'vary': a single variant; a lesson compares two or more")
    return Plan(variants, seeds or lesson.seeds, [a.text for a in axes], f"lesson {lesson.name}: {lesson.title}")


def start_lesson(lesson: Lesson, plan: Plan, runs_root: Path) -> Path:
    """A new comparison directory for the lesson, its plan and the lesson file beside it."""
    folder = new_comparison(plan, runs_root, name=f"lesson-{lesson.name}")
    atomic_write_bytes(folder / LESSON_FILE, lesson.path.read_bytes())
    return folder


def lesson_in(folder: Path) -> Lesson | None:
    """The lesson a comparison directory answers, if it is a lesson's (a broken copy: none)."""
    path = Path(folder) / LESSON_FILE
    if not path.is_file():
        return None
    try:
        return load_lesson(path)
    except ConfigError:
        return None
