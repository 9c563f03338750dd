"""A full disk (or a run folder that became read-only): which write errors those are, and the
sentence that tells a user what is kept and how to go on. The run store raises DiskFullError
with it; the trainer ends the run with it."""

from __future__ import annotations

import errno
import shlex
from pathlib import Path
from typing import Any

from mlp_tui.core.errors import DISK_ERRORS
from mlp_tui.runs.layout import LAST_CHECKPOINT


def disk_error(exc: BaseException | None) -> int | None:
    """The errno of a write that failed for a full or read-only disk, else None. torch.save
    reports its writer's OSError as a RuntimeError ("unexpected pos ...") with it as context."""
    for _ in range(8):  # the chain is short; a cycle must not hang us
        if exc is None:
            return None
        if isinstance(exc, OSError) and exc.errno in DISK_ERRORS:
            return exc.errno
        exc = exc.__cause__ or exc.__context__
    return None


def checkpoint_words(state: dict[str, Any]) -> str:
    """What a last.pt holds: `epoch 3`, or `epoch 4, after batch 120` for one saved mid-epoch."""
    if state.get("epoch") is None:  # not a run's checkpoint (a test's, a copy's): name the file
        return LAST_CHECKPOINT
    epoch = int(state["epoch"])
    mid = state.get("mid_epoch") if state.get("partial_epoch") else None
    if mid and mid.get("batches_done"):
        return f"epoch {epoch + 1}, after batch {int(mid['batches_done'])}"
    return f"epoch {epoch}"


def advice(code: int, kept: str | None, location: Path) -> str:
    """What is kept and the command that goes on from it, once the disk is mended."""
    fix = "free some space" if code in (errno.ENOSPC, errno.EDQUOT) else "make it writable again"
    if kept is None:
        return f"there is no checkpoint to continue from yet — {fix} and start the run again"
    resume = f"mlp-tui run --resume {shlex.quote(str(location))}"
    return f"the last good checkpoint ({kept}) is kept — {fix} and continue with: {resume}"
