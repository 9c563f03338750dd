"""A lesson beside its comparison: the question, where it comes from and what to watch, then the
answer as measured so far and the explanation. Scrolls; `l` on the compare screen swaps it with
the loss chart."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from mlp_tui.core.lessons import Lesson, paragraphs


def _paragraphs(text: str) -> str:
    return "\n\n".join(paragraphs(text))


class LessonPanel(VerticalScroll):
    DEFAULT_CSS = """
    LessonPanel { width: 1fr; height: 1fr; padding: 0 1; border-left: solid $panel-lighten-2; }
    LessonPanel:focus { border-left: solid $accent; }
    LessonPanel > Static { width: 1fr; }
    """

    def __init__(self, lesson: Lesson, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lesson = lesson
        self.can_focus = True  # tab to it, then the arrows scroll

    def compose(self) -> ComposeResult:
        yield Static(self.text(()), id="lesson-text")

    def show(self, answer: tuple[str, ...]) -> None:
        self.query_one("#lesson-text", Static).update(self.text(answer))

    def text(self, answer: tuple[str, ...]) -> str:
        """The question, then the answer as soon as there is one (what a learner came for), what
        to watch, why, and where the lesson comes from."""
        lesson = self.lesson
        parts = [f"[b]Lesson: {escape(lesson.title)}[/b]", f"[b]Question.[/b] {escape(_paragraphs(lesson.question))}"]
        if answer:
            head, *lines = answer
            parts.append(f"[b]{escape(head)}[/b]" + "".join(f"\n• {escape(line)}" for line in lines))
        if lesson.watch:
            tab = f" [dim](enter opens a run on its {lesson.tab.capitalize()} tab)[/dim]"
            parts.append(f"[b]Watch.[/b] {escape(_paragraphs(lesson.watch))}{tab}")
        parts.append(f"[b]Why.[/b] {escape(_paragraphs(lesson.explanation))}")
        if lesson.source:
            parts.append(f"[dim]From: {escape(lesson.source)}[/dim]")
        return "\n\n".join(parts)
