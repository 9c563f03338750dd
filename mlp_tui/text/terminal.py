"""What the terminal can show: the one place that decides ASCII-only and no-colour output.

ASCII only when MLP_TUI_ASCII=1, when the output's encoding cannot encode our glyphs, or when
the locale names no UTF-8 codeset. Python hides a C locale from the encoding (PEP 538 coerces
LC_CTYPE to C.UTF-8, PEP 540 turns on UTF-8 mode), so the locale is read from the environment
and from Python's own reaction to it. MLP_TUI_ASCII=0 forces Unicode wherever it can be encoded.
No colour when NO_COLOR is set to anything non-empty (https://no-color.org).
Torch-free and Rich-free: the engine's neighbours and the headless printer import it.
"""

from __future__ import annotations

import os
import sys
from typing import IO

ASCII_ENV = "MLP_TUI_ASCII"
GLYPHS = "█▀▄░⣿✓·"  # what the Unicode mode draws with: blocks, braille, marks
_ON, _OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _codeset_is_utf8(name: str) -> bool:
    """'en_US.UTF-8', 'C.utf8', 'UTF-8' (macOS LC_CTYPE): yes; 'C', 'POSIX', 'de_DE.ISO-8859-1': no."""
    codeset = name.partition(".")[2] if "." in name else name
    return codeset.partition("@")[0].replace("-", "").lower() == "utf8"


def _python_saw_c_locale() -> bool:
    """Python switches UTF-8 mode on by itself only when it finds the C or POSIX locale at start
    (also after coercing LC_CTYPE in this process's environment, which would then read as UTF-8)."""
    asked = "PYTHONUTF8" in os.environ or "utf8" in getattr(sys, "_xoptions", {})
    return bool(sys.flags.utf8_mode) and not asked


def locale_is_utf8() -> bool:
    """The locale's codeset by the POSIX precedence: LC_ALL, else LC_CTYPE, else LANG (none: C)."""
    if _python_saw_c_locale():
        return False
    name = next((os.environ[k] for k in ("LC_ALL", "LC_CTYPE", "LANG") if os.environ.get(k)), "C")
    return _codeset_is_utf8(name)


def can_encode(stream: IO[str] | None = None) -> bool:
    encoding = getattr(stream or sys.stdout, "encoding", None) or "ascii"
    try:
        GLYPHS.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def ascii_only(stream: IO[str] | None = None) -> bool:
    """True when everything shown should be plain ASCII (see the module's note)."""
    forced = os.environ.get(ASCII_ENV, "").strip().lower()
    if forced in _ON:
        return True
    if not can_encode(stream):
        return True
    if forced in _OFF:
        return False
    return not locale_is_utf8()


def no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


# One ASCII character for each glyph we (or Textual, Rich, plotext) draw, so that text keeps its
# width: tables and screens stay aligned. Anything unlisted becomes '?'.
_SAME_WIDTH = {
    "·": ".", "•": "*", "●": "*", "○": "o", "■": "#", "□": "o", "✓": "+", "✔": "+", "✗": "x", "✖": "x",
    "❚": "|", "⚠": "!", "→": ">", "←": "<", "↑": "^", "↓": "v", "÷": "/", "×": "x", "…": ".", "–": "-",
    "—": "-", "“": '"', "”": '"', "‘": "'", "’": "'", "±": "~", "≈": "~", "≤": "<", "≥": ">", "━": "=",
    "▸": ">", "▶": ">", "◀": "<", "▼": "v", "▲": "^", "°": "o", "µ": "u", "⅃": "J", "Γ": "r", "⅂": "7",
    "░": ".", "▒": ":", "▓": "#", "█": "#", "▀": '"', "▔": "-",
    "▁": "_", "▂": ".", "▃": "-", "▄": "=", "▅": "+", "▆": "*", "▇": "#",  # sparklines keep their order
    "▐": "|", "▌": "|", "▕": "|", "▏": "|", "▎": "|", "▍": "|", "▋": "|", "▊": "|", "▉": "|",
    "\u00a0": " ",
}  # fmt: skip


def _fallback(code: int) -> str:
    char = chr(code)
    if char in _SAME_WIDTH:
        return _SAME_WIDTH[char]
    if 0x2500 <= code <= 0x257F:  # box drawing: lines and their joints
        return "-" if char in "─━┄┅┈┉╌╍═╴╶╸╺╼╾" else "|" if char in "│┃┆┇┊┋╎╏║╵╷╹╻╽╿" else "+"
    if 0x2580 <= code <= 0x259F:  # other blocks: some ink
        return "#"
    if 0x2800 <= code <= 0x28FF:  # braille dots: a chart's line
        return "." if code != 0x2800 else " "
    return "?"


class _AsciiTable(dict):
    """str.translate's table, filled in as glyphs are met (ASCII maps to itself: None would delete)."""

    def __missing__(self, code: int) -> str:
        self[code] = _fallback(code)
        return self[code]


_TABLE = _AsciiTable((code, code) for code in range(128))


def asciify(text: str) -> str:
    """`text` with every non-ASCII character replaced by one ASCII character that stands for it."""
    return text if text.isascii() else text.translate(_TABLE)


class AsciiStream:
    """A text stream that writes `asciify`d text, and says its encoding is ASCII so that Rich and
    our own views choose their ASCII forms (bars, ramps) before anything needs replacing."""

    encoding = "ascii"
    buffer = None  # no way around the translation (click writes to a stream's buffer if it has one)

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(asciify(text))

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str):  # flush, isatty, fileno, ...: the real stream's
        return getattr(self._stream, name)


def use_ascii_streams() -> None:
    """In ASCII mode, route print/echo output through AsciiStream: one switch for every command."""
    if ascii_only(sys.stdout) and not isinstance(sys.stdout, AsciiStream):
        sys.stdout = AsciiStream(sys.stdout)
        sys.stderr = AsciiStream(sys.stderr)
