"""A lesson in words for the terminal: the list (`mlp-tui lesson`), the lesson before its runs,
and its measured answer followed by the explanation, each wrapped to the width."""

from __future__ import annotations

import textwrap
from pathlib import Path

from mlp_tui.core.lessons import Lesson, paragraphs
from mlp_tui.runs.compare.plan import Plan
from mlp_tui.text.render import counted

INDENT = " " * 4


def _wrap(text: str, width: int, first: str = INDENT, rest: str = INDENT) -> list[str]:
    """Paragraphs (blank lines in the lesson file) kept apart; each wrapped."""
    lines: list[str] = []
    for n, paragraph in enumerate(paragraphs(text)):
        lines += [""] if n else []
        lines += textwrap.wrap(paragraph, width, initial_indent=first if not n else rest, subsequent_indent=rest,
                               break_on_hyphens=False)  # fmt: skip
    return lines


def lesson_list_lines(lessons: list[Lesson], broken: list[str], width: int, user_folder: Path) -> list[str]:
    column = max([15, *(len(lesson.name) + 1 for lesson in lessons)])
    lines = []
    for lesson in lessons:
        lines += _wrap(lesson.title, width, f"{lesson.name:<{column}} {lesson.took():>8}  ", " " * (column + 11))
        lines += _wrap(lesson.question, width, " " * (column + 11), " " * (column + 11))
    lines += [f"mlp-tui: skipped a broken lesson: {line}" for line in broken]
    where = " or ".join(sorted({lesson.hardware for lesson in lessons if lesson.seconds and lesson.hardware}))
    notes = (f"Times: the whole lesson, measured on {where or 'the author’s machine'}. "
             "Run one with: mlp-tui lesson NAME (the app: its comparison with the lesson beside it; add "
             f"--headless for text). Write your own as .toml files in {user_folder}, or pass a path to one; "
             "the built-in ones in the lessons/ folder show the keys.")  # fmt: skip
    return [*lines, "", *textwrap.wrap(notes, width, break_on_hyphens=False)]


def lesson_intro_lines(lesson: Lesson, plan: Plan, width: int) -> list[str]:
    """What the lesson asks and what to watch, before its runs start."""
    size = f"{counted(len(plan.variants), 'variant')} × {counted(plan.seeds, 'seed')}"
    took = lesson.duration(plan.seeds)  # for the seeds asked for
    lines = _wrap(f"{lesson.title} ({size}" + (f"; {took})" if took else ")"), width,
                  "Lesson: ")  # fmt: skip
    for label, text in (("From: ", lesson.source), ("Question: ", lesson.question), ("Watch: ", lesson.watch)):
        if text:
            lines += _wrap(text, width, label)
    return lines


def lesson_answer_lines(answer: list[str], lesson: Lesson, width: int) -> list[str]:
    """The measured answer, then why it comes out so."""
    lines = []
    for n, line in enumerate(answer):
        lines += _wrap(line, width, "" if n == 0 else "  - ", INDENT)
    return [*lines, "", *_wrap(lesson.explanation, width, "Why: ")]
