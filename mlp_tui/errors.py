"""Exit codes, and errors that mean bad input rather than a bug: shown as one line, exit code 2.

They live here, free of torch, so the command line can catch them by type without importing
the modules that raise them.
"""

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
