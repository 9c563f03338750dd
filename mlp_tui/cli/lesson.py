"""`mlp-tui lesson [NAME]`: the lessons with their durations, or one lesson run: its comparison
trained (in the app, the lesson beside the compare screen; headless, as text), then the answer
built from what was measured and the explanation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlp_tui.cli.common import DataDir, RunsRoot, user_errors
from mlp_tui.cli.compare import Headless, Jobs, check_data, headless_wanted, open_compare_app
from mlp_tui.text.width import layout_width


def _lesson_names(incomplete: str) -> list[str]:
    from mlp_tui.core.lessons import list_lessons

    return [lesson.name for lesson in list_lessons()[0] if lesson.name.startswith(incomplete)]


Name = Annotated[str | None, typer.Argument(
    metavar="[NAME]", show_default=False, autocompletion=_lesson_names,
    help="A lesson's name (see the list: mlp-tui lesson) or a path to a lesson .toml file.",
)]  # fmt: skip
Seeds = Annotated[
    int | None, typer.Option(min=1, show_default=False, help="Runs per variant (default: the lesson's, 3).")
]


def lesson(
    name: Name = None,
    headless: Headless = False,
    jobs: Jobs = None,
    seeds: Seeds = None,
    data_dir: DataDir = None,
    runs_root: RunsRoot = Path("runs"),
) -> None:
    """Run a lesson: a textbook's question answered by a comparison you watch, then the answer
    measured (mean ± sd over seeds, and whether the difference is real) and the mechanism behind
    it. Without NAME, list the lessons with how long each takes."""
    from mlp_tui.core.lessons import resolve_lesson
    from mlp_tui.runs.compare.lesson import lesson_plan, start_lesson

    with user_errors():
        if name is None:
            _list()
            return
        chosen = resolve_lesson(name)
        plan = lesson_plan(chosen, seeds)
        headless = headless_wanted(headless)
        check_data(plan, data_dir)
        folder = start_lesson(chosen, plan, runs_root)
        if headless:
            from mlp_tui.cli.compare_show import run_headless
            from mlp_tui.views.console.lesson_text import lesson_intro_lines

            typer.echo("\n".join(lesson_intro_lines(chosen, plan, layout_width())) + "\n")
            raise typer.Exit(run_headless(folder, plan, jobs, data_dir, None, None))
        open_compare_app(folder, plan, runs_root, data_dir, jobs=jobs, device=None, start=True)


def _list() -> None:
    from mlp_tui.core.lessons import lesson_dirs, list_lessons
    from mlp_tui.views.console.lesson_text import lesson_list_lines

    lessons, broken = list_lessons()
    width = min(layout_width(40), 100)  # longer lines are hard to read
    typer.echo("\n".join(lesson_list_lines(lessons, broken, width, lesson_dirs()[-1])))
