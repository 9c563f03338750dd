"""A page of digits as text, built from a uint8 tensor of images in a few vectorised torch ops:
the whole page is quantised at once into characters (or grey levels), and the rows are read off
as strings; Python only joins runs of equal cells, never visits a pixel.

Two pictures of a digit, 14 lines of 28 cells, each cell two pixel rows:
- plain: the characters of render.digit_lines (shade blocks, half blocks where the two rows
  differ sharply; an ASCII ramp where the terminal lacks block characters), for logs and
  terminals without colour;
- grey: a half block in the upper pixel's grey on the lower pixel's grey, 16 levels, so every
  pixel keeps (nearly) its own shade, for the app on a colour terminal.

A grid puts them side by side, each with caption lines under it and, on demand, its class
probabilities as bars beside it. Lines come back as (text, style) runs; style "" is plain.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mlp_tui.core.datasets import class_labels
from mlp_tui.text.render import ASCII_RAMP, SHADES, SIDE, bar

ART_LINES = SIDE // 2  # 14 lines of 28 cells
GAP = 2  # columns between digits
GREY_LEVELS = 16  # grey steps per pixel: 256 styles at most, which the terminal and Rich cache
BAR_WIDTH = 8
RIGHT_MARK, WRONG_MARK = "✓", "✗"
ASCII_RIGHT_MARK, ASCII_WRONG_MARK = "+", "x"

_SHADE_CODES = torch.tensor([ord(c) for c in SHADES], dtype=torch.int32)
_ASCII_CODES = torch.tensor([ord(c) for c in ASCII_RAMP], dtype=torch.int32)
_UPPER, _LOWER = ord("▀"), ord("▄")
_GREY = [round(level * 255 / (GREY_LEVELS - 1)) for level in range(GREY_LEVELS)]
GREY_STYLES = [f"rgb({_GREY[t]},{_GREY[t]},{_GREY[t]}) on rgb({_GREY[b]},{_GREY[b]},{_GREY[b]})"
               for t in range(GREY_LEVELS) for b in range(GREY_LEVELS)]  # fmt: skip


def marks(ascii: bool) -> tuple[str, str]:
    """(right, wrong): the markers that say it without colour."""
    return (ASCII_RIGHT_MARK, ASCII_WRONG_MARK) if ascii else (RIGHT_MARK, WRONG_MARK)


def as_images(pixels) -> torch.Tensor:
    """(n, 784) uint8 on the CPU from a tensor of rows or a sequence of 784-byte strings."""
    if isinstance(pixels, torch.Tensor):
        images = pixels
    elif len(pixels) == 0:
        images = torch.zeros(0, SIDE * SIDE, dtype=torch.uint8)
    else:
        images = torch.frombuffer(bytearray(b"".join(bytes(p) for p in pixels)), dtype=torch.uint8)
    images = images.reshape(-1, SIDE * SIDE)
    if images.dtype != torch.uint8:
        raise ValueError(f"digits are uint8 pixels, got {images.dtype}")
    return images.cpu()


def _pixel_rows(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each cell's upper and lower pixel, (n, 14, 28) each, as int16."""
    pairs = images.reshape(-1, ART_LINES, 2, SIDE).to(torch.int16)
    return pairs[:, :, 0], pairs[:, :, 1]


def art_codes(images: torch.Tensor, ascii: bool = False) -> torch.Tensor:
    """Unicode code points (n, 14, 28) of the digits' plain pictures: render.digit_lines for the
    whole batch at once."""
    top, bottom = _pixel_rows(images)
    if ascii:
        mean = (top + bottom) // 2
        return _ASCII_CODES[(mean * len(ASCII_RAMP) // 256).clamp_(max=len(ASCII_RAMP) - 1).long()]
    levels = len(SHADES)
    lt, lb = (top * levels // 256).clamp_(max=levels - 1), (bottom * levels // 256).clamp_(max=levels - 1)
    low, high = torch.minimum(lt, lb), torch.maximum(lt, lb)
    sharp = (low <= 1) & (high >= 3)  # one row inked, the other nearly blank: a half block
    half = torch.where(lt > lb, torch.tensor(_UPPER, dtype=torch.int32), torch.tensor(_LOWER, dtype=torch.int32))
    return torch.where(sharp, half, _SHADE_CODES[high.long()])


def grey_keys(images: torch.Tensor) -> torch.Tensor:
    """Each cell's grey pair as an index into GREY_STYLES, (n, 14, 28)."""
    top, bottom = _pixel_rows(images)
    return (top * GREY_LEVELS // 256) * GREY_LEVELS + bottom * GREY_LEVELS // 256


def text_rows(codes: torch.Tensor) -> list[str]:
    """Rows of code points (..., width) as strings: numpy reads each row as one UTF-32 string."""
    width = codes.shape[-1]
    flat = codes.reshape(-1, width).to(torch.int32).contiguous().numpy()
    return [str(s) for s in flat.view(f"<U{width}").reshape(-1)]


def plain_art(images: torch.Tensor, ascii: bool = False) -> list[list[str]]:
    """Each digit's 14 lines of plain characters."""
    rows = text_rows(art_codes(images, ascii)) if len(images) else []
    return [rows[i : i + ART_LINES] for i in range(0, len(rows), ART_LINES)]


def grey_art(images: torch.Tensor) -> list[list[list[tuple[str, str]]]]:
    """Each digit's 14 lines of half blocks as (text, style) runs, neighbours of one grey pair
    merged. The runs are found for the whole batch at once: a run starts at column 0 and where
    a cell's grey pair differs from its left neighbour's."""
    n = len(images)
    if not n:
        return []
    keys = grey_keys(images)
    starts = torch.ones_like(keys, dtype=torch.bool)
    starts[:, :, 1:] = keys[:, :, 1:] != keys[:, :, :-1]
    flat = starts.reshape(-1).nonzero().squeeze(1)
    run_lengths = torch.diff(flat, append=torch.tensor([starts.numel()]))  # every line starts a run: none spans two
    styles = keys.reshape(-1)[flat].tolist()
    per_line = starts.sum(2).reshape(-1).tolist()
    lengths = run_lengths.tolist()
    art, at = [], 0
    for image in range(n):
        lines = []
        for line in range(ART_LINES):
            count = per_line[image * ART_LINES + line]
            lines.append([("▀" * lengths[k], GREY_STYLES[styles[k]]) for k in range(at, at + count)])
            at += count
        art.append(lines)
    return art


def cells_per_row(width: int, cell: int) -> int:
    """How many cells of `cell` columns fit side by side in `width` (at least one)."""
    return max(1, (width + GAP) // (cell + GAP))


def bars_width(classes: Sequence[str]) -> int:
    """Columns the probability bars take beside a digit."""
    return max(len(label) for label in class_labels(tuple(classes))) + 1 + BAR_WIDTH + 7


def bar_lines(
    probs: Sequence[float],
    classes: Sequence[str],
    predicted: int,
    true: int | None,
    *,
    colour: bool,
    ascii: bool = False,
) -> list[list[tuple[str, str]]]:
    """One line per class: `3 ███▌     27.1%`; the predicted class in red when wrong (green when
    right), the true class in green; without colour, `<` marks the prediction and `=` the truth."""
    labels = class_labels(tuple(classes))
    name = max(len(label) for label in labels)
    lines = []
    for c, (label, p) in enumerate(zip(labels, probs, strict=True)):
        is_true, is_pred = c == true, c == predicted
        style = ("bold green" if is_true else "bold red" if is_pred else "dim") if colour else ""
        mark = "" if colour else ("=" if is_true else "<" if is_pred else " ")
        lines.append([(f"{label:<{name}} ", "bold" if colour and (is_true or is_pred) else ""),
                      (bar(p, BAR_WIDTH, ascii), style), (f"{p * 100:5.1f}%{mark}", style)])  # fmt: skip
    return lines


def _pad(runs: list[tuple[str, str]], width: int) -> list[tuple[str, str]]:
    """Runs cut or padded to exactly `width` columns."""
    out, used = [], 0
    for text, style in runs:
        if used >= width:
            break
        text = text[: width - used]
        out.append((text, style))
        used += len(text)
    if used < width:
        out.append((" " * (width - used), ""))
    return out


def grid_runs(
    images: torch.Tensor,
    captions: Sequence[Sequence[Sequence[tuple[str, str]]]],
    width: int,
    *,
    colour: bool = False,
    ascii: bool = False,
    bars: Sequence[list[list[tuple[str, str]]]] | None = None,
    bar_columns: int | None = None,
    per_row: int | None = None,
) -> list[list[tuple[str, str]]]:
    """Digits side by side, as many as fit in `width` columns, each with its caption lines
    (each a list of (text, style) runs) under it and, if given, its bar lines beside it in
    `bar_columns` columns (default: as wide as they are); `per_row` digits a row if given.
    Returns lines of (text, style) runs."""
    images = as_images(images)
    art = grey_art(images) if colour else [[[(line, "")] for line in digit] for digit in plain_art(images, ascii)]
    if bars and bar_columns is None:
        bar_columns = max(len("".join(t for t, _ in line)) for b in bars for line in b)
    side = 1 + (bar_columns or 0) if bars else 0  # bar_columns is set whenever there are bars
    cell = SIDE + side
    per_row = per_row or cells_per_row(width, cell)
    caption_lines = max((len(c) for c in captions), default=0)
    out: list[list[tuple[str, str]]] = []
    gap = [(" " * GAP, "")]
    for start in range(0, len(art), per_row):
        chunk = range(start, min(start + per_row, len(art)))
        for line in range(ART_LINES):
            runs: list[tuple[str, str]] = []
            for i in chunk:
                if i > start:
                    runs += gap
                runs += art[i][line]
                if bars:
                    b = bars[i]
                    top = (ART_LINES - len(b)) // 2  # the bars centred beside the digit
                    runs += _pad([(" ", "")] + (b[line - top] if 0 <= line - top < len(b) else []), side)
            out.append(runs)
        for line in range(caption_lines):
            runs = []
            for i in chunk:
                if i > start:
                    runs += gap
                caption = captions[i][line] if line < len(captions[i]) else []
                runs += _pad(list(caption), cell)
            out.append(runs)
    return out


def grid_lines(images, captions: Sequence[Sequence[str]], width: int, ascii: bool = False) -> list[str]:
    """grid_runs as plain strings (for a terminal without colour, a log), captions plain text.
    The lines blank in every digit of a row are left out (an MNIST digit sits in a 20x20 box),
    and a blank line follows each row."""
    styled = [[[(text, "")] for text in caption] for caption in captions]
    lines = ["".join(text for text, _ in line).rstrip() for line in grid_runs(images, styled, width, ascii=ascii)]
    block = ART_LINES + max((len(c) for c in captions), default=0)
    out: list[str] = []
    for start in range(0, len(lines), block):
        art = lines[start : start + ART_LINES]
        while art and not art[0]:
            art.pop(0)
        while art and not art[-1]:
            art.pop()
        out += art + lines[start + ART_LINES : start + block] + [""]
    return out
