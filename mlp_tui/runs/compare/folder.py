"""A comparison folder's protocol between its driver and whoever watches it (the app, `runs`,
`compare` itself): the driver's process file says who drives it and whether that one lives; a
"stop" in the control file asks the driver to stop its members (saved) and start no more."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from mlp_tui.runs.compare.plan import DRIVER_FILE
from mlp_tui.runs.status import pid_alive
from mlp_tui.runs.store import atomic_write_bytes

STOP_FILE = "control"


def write_driver_file(folder: Path) -> None:
    info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
    atomic_write_bytes(Path(folder) / DRIVER_FILE, json.dumps(info).encode())


def driver_alive(folder: Path) -> bool:
    try:
        info = json.loads((Path(folder) / DRIVER_FILE).read_text())
    except (OSError, ValueError):
        return False
    return info.get("host") == socket.gethostname() and pid_alive(int(info.get("pid", -1)))


def request_stop(folder: Path) -> None:
    atomic_write_bytes(Path(folder) / STOP_FILE, b"stop\n")


def stop_requested(folder: Path) -> bool:
    try:
        return (Path(folder) / STOP_FILE).read_text().strip() == "stop"
    except OSError:
        return False
