"""A comparison folder's protocol between its driver and whoever watches it (the app, `runs`,
`compare` itself): the driver's process file says who drives it and whether that one lives; a
"stop" in the control file asks the driver to stop its members (saved) and start no more."""

from __future__ import annotations

from pathlib import Path

from mlp_tui.runs.compare.plan import DRIVER_FILE
from mlp_tui.runs.layout import CONTROL_FILE, owner_record, read_owner
from mlp_tui.runs.store import atomic_write_bytes


def write_driver_file(folder: Path) -> None:
    atomic_write_bytes(Path(folder) / DRIVER_FILE, owner_record())


def driver_alive(folder: Path) -> bool:
    owner = read_owner(Path(folder) / DRIVER_FILE)
    return owner is not None and owner.alive()


def request_stop(folder: Path) -> None:
    atomic_write_bytes(Path(folder) / CONTROL_FILE, b"stop\n")


def stop_requested(folder: Path) -> bool:
    try:
        return (Path(folder) / CONTROL_FILE).read_text().strip() == "stop"
    except OSError:
        return False
