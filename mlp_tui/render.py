"""Digits as text art and probabilities as bars: plain strings, shared by every view."""

from __future__ import annotations

import sys
from typing import Sequence

from .datasets import DIGITS, class_label, class_labels

SHADES = " ░▒▓█"
ASCII_RAMP = " .:-=+*#%@"
EIGHTHS = " ▏▎▍▌▋▊▉█"
SIDE = 28


def wants_ascii(stream=None) -> bool:
    """True when the stream cannot show block characters (e.g. LANG=C)."""
    encoding = getattr(stream or sys.stdout, "encoding", None) or "ascii"
    try:
        "█▀▄░".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return True
    return False


def _level(value: int, levels: int) -> int:
    return min(levels - 1, value * levels // 256)


def digit_lines(pixels: bytes | Sequence[int], ascii: bool = False) -> list[str]:
    """A 28x28 digit as 14 lines of 28 characters: each character covers two pixel rows.

    Unicode: half blocks where the two rows differ sharply, shade blocks where they agree.
    ASCII: a 10-step ramp of the two rows' mean.
    """
    px = bytes(pixels)
    if len(px) != SIDE * SIDE:
        raise ValueError(f"a digit has {SIDE * SIDE} pixels, got {len(px)}")
    lines = []
    for row in range(0, SIDE, 2):
        top, bottom = px[row * SIDE : (row + 1) * SIDE], px[(row + 1) * SIDE : (row + 2) * SIDE]
        chars = []
        for t, b in zip(top, bottom):
            if ascii:
                chars.append(ASCII_RAMP[_level((t + b) // 2, len(ASCII_RAMP))])
                continue
            lt, lb = _level(t, len(SHADES)), _level(b, len(SHADES))
            if lt == lb:
                chars.append(SHADES[lt])
            elif min(lt, lb) <= 1 and max(lt, lb) >= 3:
                chars.append("▀" if lt > lb else "▄")
            else:
                chars.append(SHADES[max(lt, lb)])
        lines.append("".join(chars))
    return lines


def bar(fraction: float, width: int, ascii: bool = False) -> str:
    """A horizontal bar `width` characters wide, filled to `fraction` (eighth-block precision)."""
    fraction = min(max(fraction, 0.0), 1.0)
    if ascii:
        filled = round(fraction * width)
        return "#" * filled + " " * (width - filled)
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (EIGHTHS[part] if part else "")
    return text + " " * (width - len(text))


def probability_lines(
    probabilities: Sequence[float], width: int = 24, ascii: bool = False, classes: Sequence[str] = DIGITS
) -> list[str]:
    """One line per class: `3 ██████▌      27.1%`, the most likely marked with `<`."""
    top = max(range(len(probabilities)), key=lambda i: probabilities[i])
    labels = class_labels(tuple(classes))
    name = max(len(label) for label in labels)
    return [
        f"{label:<{name}} {bar(p, width, ascii)} {p * 100:5.1f}%{' <' if i == top else ''}"
        for i, (label, p) in enumerate(zip(labels, probabilities))
    ]


def digit_grid(items: Sequence[tuple[bytes, str]], width: int = 80, ascii: bool = False) -> list[str]:
    """Digits side by side, each with a label line under it, wrapped to `width` columns."""
    cell = max(SIDE + 2, *(len(label) + 2 for _, label in items)) if items else SIDE + 2
    per_row = max(1, width // cell)
    out: list[str] = []
    for start in range(0, len(items), per_row):
        chunk = items[start : start + per_row]
        arts = [digit_lines(px, ascii) for px, _ in chunk]
        rows = ["".join(f"{art[r]:<{cell}}" for art in arts).rstrip() for r in range(SIDE // 2)]
        # MNIST digits sit in a 20x20 box: drop the margin lines that are blank in every digit.
        while rows and not rows[0]:
            rows.pop(0)
        while rows and not rows[-1]:
            rows.pop()
        out += rows
        out.append("".join(f"{label:<{cell}}" for _, label in chunk).rstrip())
        out.append("")
    return out


def prediction_lines(pixels: bytes, probabilities: Sequence[float], classes: Sequence[str], ascii: bool) -> list[str]:
    """An image as text art beside its class probabilities, then the prediction."""
    art, bars = digit_lines(pixels, ascii), probability_lines(probabilities, ascii=ascii, classes=classes)
    while art and not art[0].strip():  # an MNIST digit sits in a 20x20 box: drop the blank margin
        art.pop(0)
    while art and not art[-1].strip():
        art.pop()
    height = max(len(art), len(bars))
    art_top, bars_top = (height - len(art)) // 2, (height - len(bars)) // 2
    lines = []
    for i in range(height):
        left = art[i - art_top] if 0 <= i - art_top < len(art) else ""
        right = bars[i - bars_top] if 0 <= i - bars_top < len(bars) else ""
        lines.append(f"{left:<{SIDE}}    {right}".rstrip())
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    return lines + ["", f"prediction: {class_label(tuple(classes), best)} ({probabilities[best] * 100:.1f} %)"]
