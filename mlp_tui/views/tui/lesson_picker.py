"""The setup screen's Lessons key: pick a lesson, and its comparison starts (as `mlp-tui lesson
NAME` does), the lesson beside the compare screen."""

from __future__ import annotations

from collections.abc import Callable

from rich.markup import escape
from textual.screen import Screen

from mlp_tui.core.config import ConfigError
from mlp_tui.core.lessons import Lesson, list_lessons
from mlp_tui.runs.compare.lesson import lesson_plan
from mlp_tui.runs.compare.plan import Plan
from mlp_tui.views.tui.dialogs import PickDialog


def pick_lesson(screen: Screen, start: Callable[[Plan, Lesson], object]) -> None:
    """Offer every lesson (a broken file of the teacher's said, not offered); `start` the one
    picked with its plan, or say why its file cannot make one."""
    lessons, broken = list_lessons()
    for problem in broken:
        screen.notify(escape(f"Skipped a broken lesson: {problem}"), severity="warning", timeout=15)
    lines = [f"{escape(lesson.title)} [dim]({lesson.took()}) {escape(lesson.name)}[/dim]" for lesson in lessons]

    def chosen(index: int | None) -> None:
        if index is None:
            return
        try:
            plan = lesson_plan(lessons[index])
        except ConfigError as exc:
            screen.notify(escape(str(exc)), severity="error", timeout=15)
            return
        start(plan, lessons[index])

    screen.app.push_screen(PickDialog("[b]Lessons[/b]: a question answered by a comparison", lines), chosen)
