"""Exit codes, and errors that mean bad input rather than a bug: shown as one line, exit code 2.

They live here, free of torch, so the command line can catch them by type without importing
the modules that raise them.
"""

import errno
import os
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2  # the README's table; signals add 128 + signum


def exit_now(code: int) -> None:
    """Flush the terminal and end the process without Python's teardown: once torch is loaded,
    tearing down its 2,000-odd modules takes about a second and touches 100 MB more memory.
    Only for when every file is closed and synced (run files are, by the end of a run)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class DataError(RuntimeError):
    """The data cannot be had: missing, damaged or unreadable."""


class DeviceError(RuntimeError):
    """The requested device is not available."""


# Why a file could not be written, in a user's words; the errors a full or read-only disk gives.
DISK_ERRORS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system became read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}


class DiskFullError(OSError):
    """A run's file could not be written: the disk is full, or its folder became read-only.
    Not bad input (exit 1): the run stops, what was saved before stays, and `advice` says how
    to go on. str() is the whole sentence a user sees."""

    def __init__(self, code: int, filename: str, advice: str = "") -> None:
        super().__init__(code, DISK_ERRORS.get(code, os.strerror(code)), filename)
        self.advice = advice

    @property
    def space(self) -> bool:
        return self.errno in (errno.ENOSPC, errno.EDQUOT)

    def __str__(self) -> str:
        return f"{self.strerror} while writing {self.filename}" + (f"; {self.advice}" if self.advice else "")
