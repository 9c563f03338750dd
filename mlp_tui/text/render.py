"""Digits as text art and probabilities as bars: plain strings, shared by every view."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from mlp_tui.core.datasets import DIGITS, class_label, class_labels
from mlp_tui.text.terminal import ascii_only, no_color

if TYPE_CHECKING:
    from rich.text import Text

SHADES = " ░▒▓█"
ASCII_RAMP = " .:-=+*#%@"
EIGHTHS = " ▏▎▍▌▋▊▉█"
SIDE = 28


def wants_ascii(stream: IO[str] | None = None) -> bool:
    """True when output should be ASCII only (LANG=C, a non-UTF-8 locale, MLP_TUI_ASCII=1):
    terminal.ascii_only decides, for every view alike."""
    return ascii_only(stream)


def counted(n: int, noun: str) -> str:
    """ "1 seed", "2 seeds": a count with its noun in the right number (nouns that take an s)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


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
        for t, b in zip(top, bottom, strict=True):
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
        for i, (label, p) in enumerate(zip(labels, probabilities, strict=True))
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
    return [*lines, "", f"prediction: {class_label(tuple(classes), best)} ({probabilities[best] * 100:.1f} %)"]


# -- weights as pictures: what a unit of the first layer looks for in the 28x28 input ---------------

WEIGHT_POSITIVE = (70, 140, 255)  # blue: ink here drives the unit up
WEIGHT_NEGATIVE = (255, 70, 60)  # red: ink here drives it down
WEIGHT_LEVELS = 16  # colour steps per sign: few distinct styles, so the terminal and Rich cache them
WEIGHT_GAMMA = 0.7  # < 1 lifts the middling weights, which a linear map leaves near black
DEAD_DIM = 0.4  # a dead unit's picture is drawn at this brightness
# Without colour, one character per two pixels (the stronger one): blank near zero, then
# denser marks for larger |w|; the sign is the kind of mark.
POSITIVE_MARKS = " .:+*#@"
NEGATIVE_MARKS = " ,;-=xX"
WEIGHT_LEGEND_PLAIN = f"'{POSITIVE_MARKS[3:]}' positive, '{NEGATIVE_MARKS[3:]}' negative (denser: larger |w|)"
PICTURE_GAP = 2  # columns between pictures in a grid


def wants_colour(stream: IO[str] | None = None) -> bool:
    """True when the stream is a terminal that may show colour: not a pipe or a file, not
    TERM=dumb, and no NO_COLOR (https://no-color.org: set to anything non-empty)."""
    import os

    stream = stream or sys.stdout
    if no_color():
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def weight_limit(values: Sequence[float]) -> float:
    """The largest |w|: what full colour means for a picture (never 0, so a blank one stays blank)."""
    top = max((abs(v) for v in values), default=0.0)
    return top if top > 0 else 1.0


def _weight_step(value: float, limit: float, levels: int) -> int:
    """|value| / limit (after the gamma) as 0..levels-1, signed: negative for negative weights."""
    t = min(abs(value) / limit, 1.0) ** WEIGHT_GAMMA
    step = min(levels - 1, int(t * levels + 0.5))
    return -step if value < 0 else step


def weight_colour(value: float, limit: float, dim: bool = False) -> tuple[int, int, int]:
    """Blue for a positive weight, red for a negative one, black at zero; brighter for larger |w|."""
    step = _weight_step(value, limit, WEIGHT_LEVELS + 1)
    base = WEIGHT_POSITIVE if step >= 0 else WEIGHT_NEGATIVE
    scale = abs(step) / WEIGHT_LEVELS * (DEAD_DIM if dim else 1.0)
    return (round(base[0] * scale), round(base[1] * scale), round(base[2] * scale))


def _check_picture(values: Sequence[float]) -> None:
    if len(values) != SIDE * SIDE:
        raise ValueError(f"a picture has {SIDE * SIDE} values, got {len(values)}")


def weight_runs(values: Sequence[float], limit: float | None = None, dim: bool = False) -> list[list[tuple[str, str]]]:
    """A picture of 784 weights as 14 lines of 28 half blocks, each line a list of (text, style)
    runs (neighbours of one style merged): '▀' in the upper pixel's colour on the lower's."""
    _check_picture(values)
    limit = limit or weight_limit(values)
    lines = []
    for row in range(0, SIDE, 2):
        runs: list[tuple[str, str]] = []
        for col in range(SIDE):
            top = weight_colour(values[row * SIDE + col], limit, dim)
            bottom = weight_colour(values[(row + 1) * SIDE + col], limit, dim)
            style = f"rgb({top[0]},{top[1]},{top[2]}) on rgb({bottom[0]},{bottom[1]},{bottom[2]})"
            if runs and runs[-1][1] == style:
                runs[-1] = (runs[-1][0] + "▀", style)
            else:
                runs.append(("▀", style))
        lines.append(runs)
    return lines


def weight_lines(values: Sequence[float], limit: float | None = None) -> list[str]:
    """A picture of 784 weights as 14 plain lines of 28 characters, for a terminal or log without
    colour: each character stands for two pixels (the one with the larger |w|)."""
    _check_picture(values)
    limit = limit or weight_limit(values)
    levels = len(POSITIVE_MARKS)
    lines = []
    for row in range(0, SIDE, 2):
        chars = []
        for col in range(SIDE):
            top, bottom = values[row * SIDE + col], values[(row + 1) * SIDE + col]
            step = _weight_step(top if abs(top) >= abs(bottom) else bottom, limit, levels)
            chars.append(POSITIVE_MARKS[step] if step >= 0 else NEGATIVE_MARKS[-step])
        lines.append("".join(chars))
    return lines


def weight_text(values: Sequence[float], limit: float | None = None, dim: bool = False) -> Text:
    """weight_runs as one Rich Text of 14 lines (Rich is imported here only: this module stays
    free of it for the engine and the headless printer)."""
    from rich.text import Text

    return Text("\n", no_wrap=True).join(Text.assemble(*runs, no_wrap=True) for runs in weight_runs(values, limit, dim))


def weight_grid_runs(
    pictures: Sequence[tuple[Sequence[float], str, bool]],
    width: int = 80,
    *,
    colour: bool = True,
    per_picture: bool = True,
) -> list[list[tuple[str, str]]]:
    """Pictures side by side, as many as fit in `width` columns, each with its label under it.

    `pictures`: (784 weights, label, dead). Colour: half blocks (weight_runs); without, the
    characters of weight_lines. Each picture is scaled by its own largest |w| (`per_picture`)
    or all by the largest of the lot. A dead unit's picture is dimmed and its label red.
    Returns lines of (text, style) runs; style "" is plain text."""
    cell = SIDE + PICTURE_GAP
    per_row = max(1, (width + PICTURE_GAP) // cell)
    shared = None if per_picture else max((weight_limit(v) for v, _, _ in pictures), default=1.0)
    out: list[list[tuple[str, str]]] = []
    gap = " " * PICTURE_GAP
    for start in range(0, len(pictures), per_row):
        chunk = pictures[start : start + per_row]
        if colour:
            arts = [weight_runs(v, shared, dead) for v, _, dead in chunk]
        else:
            arts = [[[(line, "")] for line in weight_lines(v, shared)] for v, _, _ in chunk]
        for r in range(SIDE // 2):
            line: list[tuple[str, str]] = []
            for i, art in enumerate(arts):
                if i:
                    line.append((gap, ""))
                line += art[r]
            out.append(line)
        labels: list[tuple[str, str]] = []
        for i, (_, label, dead) in enumerate(chunk):
            text = label[:SIDE]
            pad = (" " * (cell - len(text))) if i < len(chunk) - 1 else ""
            labels.append((text, "bold red" if dead and colour else "bold" if colour else ""))
            if pad:
                labels.append((pad, ""))
        out.append(labels)
    return out


def weight_grid_lines(
    pictures: Sequence[tuple[Sequence[float], str, bool]], width: int = 80, *, per_picture: bool = True
) -> list[str]:
    """weight_grid_runs without colour, as plain strings (for logs and NO_COLOR terminals)."""
    runs = weight_grid_runs(pictures, width, colour=False, per_picture=per_picture)
    return ["".join(text for text, _ in line).rstrip() for line in runs]


def weight_grid_text(
    pictures: Sequence[tuple[Sequence[float], str, bool]],
    width: int = 80,
    *,
    colour: bool = True,
    per_picture: bool = True,
) -> list:
    """weight_grid_runs as Rich Text lines (Rich imported here only)."""
    from rich.text import Text

    return [
        Text.assemble(*line, no_wrap=True)
        for line in weight_grid_runs(pictures, width, colour=colour, per_picture=per_picture)
    ]
