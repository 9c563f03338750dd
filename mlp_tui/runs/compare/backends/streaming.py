"""A run directory copied as it grows, for members trained on a cluster without a shared
filesystem: the worker sends what its scratch copy wrote since the last look, the driver applies
it to the comparison's directory, so `watch` and the compare screen follow it as a local run.

metrics.jsonl only grows, so only its new bytes travel; the other files (config, checkpoints,
report) are replaced whole, as the run store replaces them (atomically).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mlp_tui.runs.layout import CONTROL_FILE, METRICS_FILE, PROCESS_FILE
from mlp_tui.runs.store import atomic_write_bytes

# Which process trains a run and what it is told are each copy's own, not the run's story.
NOT_COPIED = frozenset({PROCESS_FILE, CONTROL_FILE})
GROWING = frozenset({METRICS_FILE})


@dataclass(frozen=True)
class FileChange:
    name: str
    data: bytes
    offset: int | None = None  # the data goes at this offset (a growing file); None: the whole file


def _copied(path: Path) -> bool:
    return path.is_file() and path.name not in NOT_COPIED and not path.name.startswith(".")  # .x.tmp: a save in flight


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def read_files(folder: Path) -> dict[str, bytes]:
    """A run directory's files, to start a working copy elsewhere (none if it does not exist)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if _copied(p)}


class DirectoryWatch:
    """What changed in a run directory since the last look. The files there at the start came
    from the other side: only what is written after them is a change."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._seen = dict(self._signatures())
        self._sent = {name: sig[1] for name, sig in self._seen.items() if name in GROWING}  # bytes sent

    def _signatures(self) -> Iterator[tuple[str, tuple[int, int, int]]]:
        for path in sorted(self.folder.iterdir()) if self.folder.is_dir() else []:
            if _copied(path) and (signature := _signature(path)) is not None:
                yield path.name, signature

    def changes(self) -> list[FileChange]:
        """Growing files are read first: a checkpoint saved before the events that speak of it
        is then in the same batch. Checkpoints go first in it, as a local run writes them."""
        names = sorted((name for name, _ in self._signatures()), key=lambda name: name not in GROWING)
        found = []
        for name in names:
            signature = _signature(self.folder / name)
            if signature is None or self._seen.get(name) == signature:
                continue
            change = self._read(name, signature)
            if change is not None:
                found.append(change)
            self._seen[name] = signature
        return sorted(found, key=lambda c: c.name in GROWING)

    def _read(self, name: str, signature: tuple[int, int, int]) -> FileChange | None:
        path = self.folder / name
        try:
            if name not in GROWING:
                return FileChange(name, path.read_bytes())
            start = self._sent.get(name, 0)
            start = start if signature[1] >= start else 0  # shorter: the whole file again
            with open(path, "rb") as f:
                f.seek(start)
                data = f.read()
        except FileNotFoundError:
            return None  # replaced as we looked: the next look sends it
        self._sent[name] = start + len(data)
        return FileChange(name, data, start) if data or start == 0 else None


def apply_changes(folder: Path, changes: list[FileChange]) -> None:
    """Write the changes into the driver's copy of the run."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for change in changes:
        path = folder / Path(change.name).name  # a name, never a path out of the folder
        if change.offset is None:
            atomic_write_bytes(path, change.data)
            continue
        with open(path, "r+b" if path.exists() else "wb") as f:
            f.seek(change.offset)
            f.write(change.data)
            f.truncate()
            f.flush()
            os.fsync(f.fileno())
