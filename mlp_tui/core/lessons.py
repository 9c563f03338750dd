"""Lessons: TOML files that pose a textbook's question, name the comparison that answers it, say
what to watch and explain the mechanism. The answer itself is measured, never written here.

Built-in lessons live in the top-level lessons/ folder (mlp_tui/lessons links to it, as presets
do); a teacher's own go in the user's config folder (or $MLP_TUI_LESSONS), or anywhere by path.
Torch-free, so `mlp-tui lesson` lists them at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlp_tui.core.config import ConfigError, build_config, did_you_mean
from mlp_tui.core.setting_values import duration_words
from mlp_tui.core.toml_file import read_toml

# The training screen's tabs, by the id a lesson's `tab` names (a test keeps them in step).
TABS = ("charts", "classes", "mistakes", "confusion", "model", "health", "weights", "draw", "data", "predictions")

# Each key: (what it holds, required). Declared once: the loader checks against it and the
# error for an unknown key lists it.
TEXT_KEYS = {
    "title": ("a short title", True),
    "question": ("the question in plain words", True),
    "source": ("which textbook or notes it comes from", False),
    "watch": ("what to watch while it runs", False),
    "explanation": ("the mechanism behind the answer", True),
    "hardware": ("where `seconds` was measured", False),
}
TOP_KEYS = (*TEXT_KEYS, "tab", "seconds", "compare")
COMPARE_KEYS = ("preset", "vary", "seeds", "settings")
DEFAULT_SEEDS = 3


@dataclass(frozen=True)
class Lesson:
    name: str
    path: Path
    title: str
    question: str
    explanation: str
    presets: tuple[str, ...]
    vary: tuple[str, ...]  # as `compare --vary` takes them; the first is the question's axis
    seeds: int = DEFAULT_SEEDS
    settings: dict[str, Any] = field(default_factory=dict)  # run settings common to every variant
    source: str = ""
    watch: str = ""
    tab: str = "charts"  # the member screen's tab a run opens on
    seconds: float | None = None  # measured wall time of the whole lesson
    hardware: str = ""

    def took(self, seeds: int | None = None) -> str:
        """ "~50 s", "~2.5 min", or "?" when not measured; with `seeds`, for that many seeds a
        variant instead of the lesson's own (the time grows with the runs)."""
        if not self.seconds:
            return "?"
        return f"~{duration_words(self.seconds * (seeds or self.seeds) / self.seeds)}"

    def duration(self, seeds: int | None = None) -> str:
        """ "~2 min on 2 CPU cores", or "" when not measured."""
        return "" if not self.seconds else self.took(seeds) + (f" on {self.hardware}" if self.hardware else "")


def builtin_lesson_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "lessons"


def lesson_dirs() -> list[Path]:
    """Built-in lessons first; a teacher's own (same name wins) after."""
    from platformdirs import user_config_dir

    extra = os.environ.get("MLP_TUI_LESSONS")
    return [builtin_lesson_dir(), Path(extra) if extra else Path(user_config_dir("mlp-tui")) / "lessons"]


def _unknown(at: str, key: str, allowed: tuple[str, ...]) -> ConfigError:
    return ConfigError(f"{at}: unknown key '{key}'{did_you_mean(key, list(allowed))}; allowed: {', '.join(allowed)}")


def _text(path: Path, data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise ConfigError(f"{path}: key '{key}': {value!r} is not a string ({TEXT_KEYS[key][0]})")
    if TEXT_KEYS[key][1] and not value.strip():
        raise ConfigError(f"{path}: key '{key}' is missing: {TEXT_KEYS[key][0]}")
    return value.strip()


def load_lesson(path: Path) -> Lesson:
    """A lesson file, checked key by key (ConfigError naming the file and the key). The grid's
    axes are checked where the comparison is built (runs/compare/lesson.py)."""
    path = Path(path)
    data = read_toml(path, "lesson file")
    for key in data:
        if key not in TOP_KEYS:
            raise _unknown(str(path), key, TOP_KEYS)
    texts = {key: _text(path, data, key) for key in TEXT_KEYS}
    tab = data.get("tab", "charts")
    if tab not in TABS:
        raise ConfigError(f"{path}: key 'tab': {tab!r} is not a tab{did_you_mean(str(tab), TABS)}; "
                          f"allowed: {', '.join(TABS)}")  # fmt: skip
    seconds = data.get("seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0):
        raise ConfigError(f"{path}: key 'seconds': {seconds!r} is not a positive number (the lesson's wall time)")
    presets, vary, seeds, settings = _compare(path, data.get("compare"))
    return Lesson(
        name=path.stem, path=path, presets=presets, vary=vary, seeds=seeds, settings=settings, tab=tab,
        seconds=None if seconds is None else float(seconds), **texts,
    )  # fmt: skip


def _compare(path: Path, table: Any) -> tuple[tuple[str, ...], tuple[str, ...], int, dict[str, Any]]:
    at = f"{path}: [compare]"
    if not isinstance(table, dict):
        raise ConfigError(f"{at} is missing: the comparison that answers the question (preset, vary, seeds)")
    for key in table:
        if key not in COMPARE_KEYS:
            raise _unknown(at, key, COMPARE_KEYS)
    preset = table.get("preset", "dropout")
    presets = (preset,) if isinstance(preset, str) else preset
    if not isinstance(presets, list | tuple) or not presets or not all(isinstance(p, str) for p in presets):
        raise ConfigError(f"{at}: key 'preset': {preset!r} is not a preset name or a list of them")
    if len(set(presets)) != len(presets):
        raise ConfigError(f"{at}: key 'preset': {next(p for p in presets if presets.count(p) > 1)!r} is given twice")
    vary = table.get("vary", [])
    several = len(presets) > 1  # then the presets may be the question, without an axis
    if not isinstance(vary, list) or not (vary or several) or not all(isinstance(v, str) for v in vary):
        raise ConfigError(f"{at}: key 'vary': expected a list of axes such as [\"bias=true,false\"]; "
                          "the first is the question's (or give several presets to compare them)")  # fmt: skip
    seeds = table.get("seeds", DEFAULT_SEEDS)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"{at}: key 'seeds': {seeds!r} is not an integer >= 1")
    settings = table.get("settings", {})
    if not isinstance(settings, dict):
        raise ConfigError(f"{at}: key 'settings': expected a table of run settings ([compare.settings])")
    build_config(settings, source=f"{path}: [compare.settings]")  # names a bad key or value
    return tuple(presets), tuple(vary), seeds, dict(settings)


def list_lessons() -> tuple[list[Lesson], list[str]]:
    """Every lesson by name (built-in order, then the teacher's), and one line per broken file."""
    found: dict[str, Path] = {}
    for folder in lesson_dirs():
        if folder.is_dir():
            found.update((p.stem, p) for p in sorted(folder.glob("*.toml")))
    lessons, broken = [], []
    for path in found.values():
        try:
            lessons.append(load_lesson(path))
        except ConfigError as exc:
            broken.append(str(exc))
    return sorted(lessons, key=lambda lesson: _order(lesson.name)), broken


# Built-ins in teaching order: a perceptron's parts first, then training, then architecture.
ORDER = ("bias", "input-scaling", "learning-rate", "losses", "optimizers", "init", "sigmoid-relu", "depth-width",
         "dropout")  # fmt: skip


def _order(name: str) -> tuple[int, str]:
    return (ORDER.index(name) if name in ORDER else len(ORDER), name)


def resolve_lesson(name_or_path: str) -> Lesson:
    """A lesson by name (built-in or the teacher's folder) or by path to a TOML file."""
    if name_or_path.endswith(".toml") or "/" in name_or_path or os.sep in name_or_path:
        return load_lesson(Path(name_or_path).expanduser())
    for folder in reversed(lesson_dirs()):
        path = folder / f"{name_or_path}.toml"
        if path.is_file():
            return load_lesson(path)
    names = [lesson.name for lesson in list_lessons()[0]]
    raise ConfigError(f"unknown lesson '{name_or_path}'{did_you_mean(name_or_path, names)}; "
                      f"available: {', '.join(names) or 'none'} (or a path to a .toml file)")  # fmt: skip


def paragraphs(text: str) -> list[str]:
    """A lesson's text as it reads: blank lines part paragraphs, other line breaks do not."""
    return [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
