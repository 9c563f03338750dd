"""The forms a run setting's value may take where it is more than a number or a choice: layer
sizes, a thread count, a device name; and the "did you mean" of every error message. Each parser
returns the canonical value or raises ValueError saying what is wrong (config.py adds which
option or key, and what is expected)."""

from __future__ import annotations

import difflib
import re
from typing import Any

MAX_HIDDEN = 16384
MAX_LAYERS = 16
MAX_THREADS = 1024
DEVICES = ("auto", "cpu", "cuda", "mps")


def parse_hidden(text: str) -> tuple[int, ...]:
    """`512,512` as layer sizes; an empty text or `none` (as a comparison names it) is no hidden
    layer (a linear model). Raises ValueError saying what is wrong with the text."""
    if not text.strip() or text.strip().lower() == "none":
        return ()
    parts = [p.strip() for p in text.split(",")]
    if "" in parts:
        raise ValueError(f"{text!r} has an empty item (sizes are separated by single commas)")
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"{text!r} is not a list of integers") from None


def hidden_sizes(value: Any) -> tuple[int, ...]:
    """Layer sizes from text (`512,512`) or a preset's list."""
    if isinstance(value, str):
        value = parse_hidden(value)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValueError(f"{value!r} is not a list of integers")
    if len(value) > MAX_LAYERS:
        raise ValueError(f"{len(value)} hidden layers is more than the {MAX_LAYERS} allowed")
    for v in value:
        if not 1 <= v <= MAX_HIDDEN:
            raise ValueError(f"hidden size {v} is out of range 1..{MAX_HIDDEN}")
    return tuple(value)


def thread_setting(value: Any) -> str:
    """`auto` or a count, kept as text (`"2"`) so one field holds both; a preset may say 2 or "2"."""
    text = str(value).strip().lower() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if text == "auto":
        return text
    if text is None or not re.fullmatch(r"[0-9]+", text):
        raise ValueError(f"{value!r} is not auto or a whole number")
    if not 1 <= int(text) <= MAX_THREADS:
        raise ValueError(f"{int(text)} is out of range")
    return str(int(text))


def device_name(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a string")
    value = value.strip().lower()
    if value in DEVICES:
        return value
    kind, _, index = value.partition(":")
    # Only what torch.device accepts: ASCII digits, no leading zero ("cuda:01" and "cuda:٣" are
    # refused by torch with a RuntimeError), and an index torch can parse.
    if kind == "cuda" and re.fullmatch(r"0|[1-9][0-9]{0,3}", index) is not None:
        return value
    raise ValueError(f"unknown device {value!r}")


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def duration_words(seconds: float) -> str:
    """A measured wall time as people say it: `21 s`, `2 min`, `12.5 min`."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min".replace(".0 ", " ")
