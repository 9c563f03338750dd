"""Run directories: the resolved config, metrics.jsonl, checkpoints (written atomically), report."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from mlp_tui.core.config import RunConfig
from mlp_tui.core.errors import DiskFullError
from mlp_tui.core.events import BatchProgress, Evaluation, Event, RunFinished, RunStarted
from mlp_tui.core.presets import to_toml
from mlp_tui.runs.checkpoint import CHECKPOINT_FORMAT, CheckpointError, load_checkpoint
from mlp_tui.runs.full_disk import advice, checkpoint_words, disk_error
from mlp_tui.runs.layout import (
    BEST_CHECKPOINT,
    CONFIG_FILE,
    ERROR_LOG,
    LAST_CHECKPOINT,
    METRICS_FILE,
    REPORT_FILE,
)
from mlp_tui.text.report import Holdout, final_report
from mlp_tui.text.reproduce import ReproduceLine

if TYPE_CHECKING:
    import torch

PROGRESS_EVERY_S = 2.0  # metrics.jsonl keeps batch progress at most this often


def new_run_dir(preset: str, parent: str | Path = "runs") -> Path:
    """A fresh directory `<parent>/<time>-<preset>`; never one another run already took."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{_safe(preset)}"
    for n in range(1, 1000):
        path = parent / (stem if n == 1 else f"{stem}-{n}")
        try:
            path.mkdir()  # atomic: two runs started together cannot both get it
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot find a free run directory name under {parent}")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "run"


_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    _atomic(path, lambda f: f.write(data))


def atomic_save(obj: object, path: Path) -> None:
    """torch.save to a temp file in the same folder, fsync, then os.replace: a crash at any
    point leaves either the old file or the new one, never a partial file under `path`."""
    import torch

    _atomic(path, lambda f: torch.save(obj, f))


def _atomic(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        _raise_disk_error(exc, path)
        raise
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        _raise_disk_error(exc, path)
        raise
    _fsync_dir(path.parent)


def _raise_disk_error(exc: BaseException, path: Path) -> None:
    code = disk_error(exc)
    if code is not None and not isinstance(exc, DiskFullError):
        raise DiskFullError(code, str(path)) from exc


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_run_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A run's best.pt or last.pt: load_checkpoint, and it must hold a config and weights."""
    data = load_checkpoint(path, map_location)
    for key, what in (("config", "config"), ("model", "model weights")):
        if not isinstance(data.get(key), dict):
            raise CheckpointError(f"{path}: incomplete checkpoint (it holds no {what})")
    from mlp_tui.engine.model import legacy_state

    data["model"] = legacy_state(data["model"])
    return data


class RunStore:
    """Writes one run's directory. Every event goes to metrics.jsonl as one JSON line, flushed
    as written so `watch` sees it; batch progress is thinned."""

    def __init__(self, path: Path, reproduce: str | None = None, location: Path | None = None) -> None:
        self.path = Path(path)
        # Where users find the run: here, or the directory this one is a working copy of.
        self.location = Path(location or path)
        # The command printed at the end of report.txt; by default, rerun this run's config.
        self.reproduce = reproduce or f"mlp-tui run --preset {shlex.quote(str(self.location / CONFIG_FILE))} --headless"
        self._line = ReproduceLine(self.reproduce)
        self._test: Evaluation | None = None  # for report.txt: the test result, what chose its epoch
        self._holdout: Holdout | None = None
        self._kept: str | None = None  # what the last.pt on disk holds, once known
        self.path.mkdir(parents=True, exist_ok=True)
        # Unbuffered: each line is one write, taken back whole if the disk cannot hold it.
        self._metrics = open(self.path / METRICS_FILE, "ab+", buffering=0)
        self._end_torn_line()
        self._last_progress = 0.0
        self._held: BatchProgress | None = None  # the newest progress not written

    @property
    def last_checkpoint(self) -> Path:
        return self.path / LAST_CHECKPOINT

    @property
    def best_checkpoint(self) -> Path:
        return self.path / BEST_CHECKPOINT

    def write_config(self, config: RunConfig, preset: str) -> None:
        """At the start, and again as a rate changed by hand joins it (keeping the file's time: the
        run's start, which `latest` goes by)."""
        text = to_toml(config, {"description": f"resolved config of run {self.location.name} (preset {preset})"})
        path = self.path / CONFIG_FILE
        started = path.stat().st_mtime_ns if path.is_file() else None
        with self.writing(CONFIG_FILE):
            atomic_write_bytes(path, text.encode("utf-8"))
            if started is not None:
                os.utime(path, ns=(started, started))

    def append(self, event: Event) -> None:
        if isinstance(event, BatchProgress):
            now = time.monotonic()
            if now - self._last_progress < PROGRESS_EVERY_S and event.batch != event.batches and not event.logged:
                self._held = event  # written before the next other event: a watcher sees where a pause fell
                return
            self._last_progress = now
        self._line.note(event)
        if isinstance(event, Evaluation) and event.split == "test":
            self._test = event
        self._holdout = Holdout.of(event) if isinstance(event, RunStarted) else self._holdout
        held, self._held = (None if isinstance(event, BatchProgress) else self._held), None
        for each in filter(None, (held, event)):
            record = each.to_dict()
            record["t"] = round(time.time(), 3)
            with self.writing(METRICS_FILE):
                self._write_line(json.dumps(record, allow_nan=True) + "\n")
        if isinstance(event, RunFinished):
            report = final_report(event, self._test, width=100, holdout=self._holdout)
            self.write_report(f"{report}\n{self._line.text(event)}\n")

    def save_checkpoint(self, kind: str, state: dict[str, Any]) -> None:
        path = {"best": self.best_checkpoint, "last": self.last_checkpoint}[kind]
        with self.writing(path.name):
            atomic_save({"format": CHECKPOINT_FORMAT} | state, path)
        if kind == "last":
            self._kept = checkpoint_words(state)

    def write_error(self, text: str) -> None:
        try:
            (self.path / ERROR_LOG).write_text(text)
        except OSError:
            pass  # the run's end is still told by its events

    def write_report(self, text: str) -> None:
        with self.writing(REPORT_FILE):
            atomic_write_bytes(self.path / REPORT_FILE, text.encode("utf-8"))

    def close(self) -> None:
        if not self._metrics.closed:
            with contextlib.suppress(OSError):  # a full disk: every line was written whole or taken back
                os.fsync(self._metrics.fileno())
            self._metrics.close()

    # -- a full or read-only disk -------------------------------------------------------------
    def _write_line(self, line: str) -> None:
        """Append one whole line or nothing: a write cut short is taken back, so no reader sees
        a torn line and the next line never lands on one."""
        data = memoryview(line.encode("utf-8"))
        fd = self._metrics.fileno()
        start = os.fstat(fd).st_size
        try:
            while data:
                data = data[self._metrics.write(data) :]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise

    def _end_torn_line(self) -> None:
        """A line cut short by an earlier crash would swallow the next one: end it (readers
        skip it as damaged)."""
        if self._metrics.seek(0, os.SEEK_END) == 0:
            return
        self._metrics.seek(-1, os.SEEK_END)
        if self._metrics.read(1) != b"\n":  # (appends still go to the end)
            self._write_line("\n")

    @contextlib.contextmanager
    def writing(self, name: str) -> Iterator[None]:
        """A write that fails for a full or read-only disk becomes a DiskFullError that names the
        file where users find it, the checkpoint still kept and how to go on."""
        try:
            yield
        except Exception as exc:
            code = disk_error(exc)
            if code is None:
                raise
            if self._kept is None:
                with contextlib.suppress(CheckpointError, KeyError, TypeError, ValueError):
                    # A resumed run's last.pt (or none yet): name what is really on disk.
                    self._kept = checkpoint_words(load_checkpoint(self.last_checkpoint))
            raise DiskFullError(code, str(self.location / name), advice(code, self._kept, self.location)) from exc


class MetricsTail:
    """Reads whole new lines from a metrics.jsonl that may still be being written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""

    def read(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as f:
                if os.fstat(f.fileno()).st_size < self.offset:  # a new file in its place: read it whole
                    self.offset, self.partial = 0, b""
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(chunk)
        data = self.partial + chunk
        lines = data.split(b"\n")
        self.partial = lines.pop()  # an unfinished last line waits for the rest
        records: list[dict[str, Any]] = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a damaged line is skipped, never fatal
        return records


def read_events(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl; a half-written last line (run still writing) is skipped."""
    return MetricsTail(Path(path)).read()
