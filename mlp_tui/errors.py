"""Errors that mean bad input rather than a bug: shown as one line, exit code 2.

They live here, free of torch, so the command line can catch them by type without importing
the modules that raise them.
"""

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2  # the README's table; signals add 128 + signum


class DataError(RuntimeError):
    """The data cannot be had: missing, damaged or unreadable."""


class DeviceError(RuntimeError):
    """The requested device is not available."""
