"""A run directory's layout: the name of every file a run keeps there, declared once, and whose
process owns the directory.

A run writes PROCESS_FILE (its pid and host) when it starts; a comparison's driver writes the
same record to its folder's driver file. Whether that process still lives can be told only on
its own host: elsewhere it is neither known alive nor known dead.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from mlp_tui.core.run_files import (  # noqa: F401  (declared in core, where the text layer reads them too)
    BEST_CHECKPOINT,
    CONFIG_FILE,
    CONTROL_FILE,
    ERROR_LOG,
    LAST_CHECKPOINT,
    METRICS_FILE,
    PROCESS_FILE,
    REPORT_FILE,
)


def is_run_dir(path: Path) -> bool:
    """A directory a run has written to (its events, or at least its config)."""
    return (path / METRICS_FILE).exists() or (path / CONFIG_FILE).exists()


def owner_record() -> bytes:
    """This process as a directory's owner: the contents of a PROCESS_FILE or a driver file."""
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}).encode()


@dataclass(frozen=True)
class Owner:
    """The process an owner record names."""

    pid: int
    host: str | None

    @property
    def here(self) -> bool:
        """On this machine, where its pid can be looked at."""
        return self.host == socket.gethostname()

    def alive(self, besides: Collection[int | None] = ()) -> bool:
        """Known to live: on this machine, its pid alive and none of `besides` (this very process,
        a worker known to be done with the directory)."""
        return self.here and pid_alive(self.pid) and self.pid not in besides

    def died(self) -> bool:
        """Known to be gone: on this machine, its pid no longer alive."""
        return self.here and not pid_alive(self.pid)


def read_owner(path: Path) -> Owner | None:
    """The owner record at `path`; None if there is none, or it is not one."""
    try:
        info = json.loads(Path(path).read_text())
        return Owner(int(info.get("pid", -1)), info.get("host")) if isinstance(info, dict) else None
    except (OSError, ValueError, TypeError):
        return None


def pid_alive(pid: int) -> bool:
    if pid <= 0:  # 0 and -1 would ask about a whole group of processes, not one
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True
