"""IDX files (the MNIST format) read by their content: plain, or any valid gzip of them.

Every header field is checked and a fault names the file and the field: the magic number (two
zero bytes, the data type, the number of dimensions), 28x28 images, a body exactly as long as
the header declares. Whether a file is gzipped is told by its first bytes, not by its name or
an archive's checksum, so data re-compressed by hand reads like the original.
"""

from __future__ import annotations

import gzip
import io
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

from mlp_tui.core.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
UBYTE = 0x08
SIDE = 28
CHUNK = 1 << 22
MAX_BODY = 1 << 30  # bytes: EMNIST's largest file is half this, MNIST's 47 MB
TYPE_NAMES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "short", 0x0C: "int", 0x0D: "float", 0x0E: "double"}


class IdxError(DataError):
    """A file that is not a usable IDX file; the message names it and the field at fault."""

    def __init__(self, path: Path, field: str, problem: str) -> None:
        super().__init__(f"{path}: {field}: {problem}")
        self.path, self.field = path, field


@dataclass
class IdxArray:
    """An IDX file's declared dimensions and its body as one writable buffer."""

    path: Path
    dims: tuple[int, ...]
    body: bytearray

    def __len__(self) -> int:
        return self.dims[0]


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def _read_exactly(f: io.BufferedIOBase, buffer: bytearray) -> int:
    """Fill `buffer` from f as far as the file goes; how many bytes came."""
    view, got = memoryview(buffer), 0
    while got < len(view):
        n = f.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def read_idx(path: Path, ndim: int) -> IdxArray:
    """Read and check an IDX file of unsigned bytes with `ndim` dimensions (3: images, 1: labels).

    Raises IdxError naming the file and the field; OSError if it cannot be opened."""
    kind = "images" if ndim == 3 else "labels"
    gzipped = _is_gzip(path)
    try:
        with gzip.open(path, "rb") if gzipped else open(path, "rb") as f:
            dims = _read_header(f, path, ndim, kind)
            body = _read_body(f, path, dims, kind, gzipped)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        # EOFError: the archive ends before its end-of-stream marker; BadGzipFile: a bad header
        # or checksum; zlib.error: damaged compressed data.
        problem = "cut short (truncated)" if isinstance(exc, EOFError) else f"damaged ({exc})"
        raise IdxError(path, "gzip archive", problem) from None
    return IdxArray(path, dims, body)


def _read_header(f: io.BufferedIOBase, path: Path, ndim: int, kind: str) -> tuple[int, ...]:
    magic = bytearray(4)
    if _read_exactly(f, magic) < 4:
        raise IdxError(path, "header", "file too short for an IDX header (truncated or empty)")
    if magic[0] or magic[1]:
        raise IdxError(path, "magic number", f"0x{magic.hex().upper()} is not an IDX magic number "
                                             f"(expected 0x0000{UBYTE:02X}{ndim:02X} "
                                             f"for an MNIST {kind} file)")  # fmt: skip
    if magic[2] != UBYTE:
        found = TYPE_NAMES.get(magic[2], "unknown")
        raise IdxError(path, "data type", f"0x{magic[2]:02X} ({found}), expected 0x08 (unsigned byte)")
    if magic[3] != ndim:
        raise IdxError(path, "number of dimensions", f"{magic[3]}, expected {ndim} for an MNIST {kind} file")
    head = bytearray(4 * ndim)
    if _read_exactly(f, head) < len(head):
        raise IdxError(path, "header", "cut short before the dimensions end (truncated)")
    dims = tuple(int.from_bytes(head[4 * i : 4 * i + 4], "big") for i in range(ndim))
    if ndim == 3 and dims[1:] != (SIDE, SIDE):
        raise IdxError(path, "image size", f"{dims[1]}x{dims[2]} pixels, expected {SIDE}x{SIDE}")
    return dims


def _read_body(f: io.BufferedIOBase, path: Path, dims: tuple[int, ...], kind: str, gzipped: bool) -> bytearray:
    """Exactly the bytes the header declares: fewer is a truncated file, more trailing bytes."""
    size = math.prod(dims)
    item = size // dims[0] if dims[0] else 1

    def short(got: int) -> IdxError:
        held = f"{got // item:,} whole {kind[:-1]}s ({got:,} of {size:,} bytes)"
        if gzipped:  # the archive ended early, or holds a file that was cut short
            return IdxError(path, "gzip archive", f"cut short (truncated): it holds {held}, the header declares "
                                                  f"{dims[0]:,}")  # fmt: skip
        return IdxError(path, "length", f"the header declares {dims[0]:,} {kind} but the file holds {held}: truncated")

    # Checked before the buffer is asked for: a damaged count must not ask for gigabytes.
    if not gzipped and size > (on_disk := path.stat().st_size - 4 - 4 * len(dims)):
        raise short(on_disk)
    if size > MAX_BODY:
        raise IdxError(path, "count", f"the header declares {dims[0]:,} {kind} ({size:,} bytes), more than an "
                                      "MNIST-format file holds (a damaged header?)")  # fmt: skip
    body = bytearray(size)
    if (got := _read_exactly(f, body)) < size:
        raise short(got)
    extra = 0
    while chunk := f.read(CHUNK):
        extra += len(chunk)
    if extra:
        raise IdxError(path, "length", f"{extra:,} byte{'s' if extra > 1 else ''} after the {dims[0]:,} {kind} the "
                                       "header declares (trailing bytes: not an MNIST file, "
                                       "or two files joined)")  # fmt: skip
    return body


def check_labels(labels: IdxArray, n_classes: int) -> None:
    """Every label names a class: 0 .. n_classes - 1."""
    top = max(labels.body, default=0)
    if top >= n_classes:
        at = labels.body.index(top)
        raise IdxError(labels.path, "label value", f"label {top} (item {at:,}) is outside the class range "
                                                   f"0-{n_classes - 1}")  # fmt: skip


def check_pair(images: IdxArray, labels: IdxArray) -> None:
    if len(images) != len(labels):
        raise IdxError(labels.path, "count", f"{len(labels):,} labels, but {images.path.name} holds "
                                             f"{len(images):,} images: the counts must be equal")  # fmt: skip
