"""Reading a user's TOML file (a preset, a lesson) into a table, or one line saying why not."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from mlp_tui.core.config import ConfigError


def read_toml(path: Path, kind: str) -> dict[str, Any]:
    """The file's table; ConfigError naming the file and what is wrong (`kind`: "preset file")."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {kind}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a {kind}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a TOML file (not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise ConfigError(f"{path}: not valid TOML: arrays or tables nested too deeply") from None
