"""ctrl+s: the screen as an SVG picture (Textual draws it), saved beside what it shows (the run's
or the comparison's directory), so it can go on a slide."""

from __future__ import annotations

import time
from pathlib import Path

from rich.markup import escape


def picture_path(folder: Path) -> Path:
    """screen-<date>-<time>.svg in `folder`, never over an earlier one."""
    stem = f"screen-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = folder / f"{stem}.svg", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.svg"
    return path


def save_picture(app, folder: Path | None, what: str) -> Path | None:
    """Save the app's current screen into `folder` (None: the current directory, `what` says
    why) and say where; None if it could not be written."""
    here = folder is None
    folder = Path.cwd() if folder is None else Path(folder)
    try:
        path = picture_path(folder)
        path.write_text(app.export_screenshot(), encoding="utf-8")
    except OSError as exc:
        app.notify(escape(f"Cannot save the screenshot in {folder}: {exc.strerror or exc}"), severity="error")
        return None
    note = f"\n(no {what} yet: saved in the current directory)" if here else ""
    app.notify(escape(f"{path}{note}"), title="Screenshot saved", timeout=8)
    return path
