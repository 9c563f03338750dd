"""Digits as text art and probability bars."""

from __future__ import annotations

import pytest

from mlp_tui.text.render import bar, digit_grid, digit_lines, probability_lines


def test_a_digit_is_14_lines_of_28_characters():
    pixels = bytes((i * 7) % 256 for i in range(784))
    lines = digit_lines(pixels)
    assert len(lines) == 14
    assert all(len(line) == 28 for line in lines)


def test_blank_and_full_digits():
    assert digit_lines(bytes(784)) == [" " * 28] * 14
    assert digit_lines(bytes([255]) * 784) == ["█" * 28] * 14
    assert digit_lines(bytes([255]) * 784, ascii=True) == ["@" * 28] * 14


def test_ascii_art_uses_only_ascii():
    pixels = bytes(range(256)) * 3 + bytes(16)
    for line in digit_lines(pixels, ascii=True):
        assert line.isascii() and len(line) == 28
    assert any(c != " " for line in digit_lines(pixels, ascii=True) for c in line)


def test_half_blocks_show_which_row_is_ink():
    top_ink = (bytes([255]) * 28 + bytes(28)) * 14  # every character: top row ink, bottom row paper
    assert digit_lines(top_ink) == ["▀" * 28] * 14
    bottom_ink = (bytes(28) + bytes([255]) * 28) * 14
    assert digit_lines(bottom_ink) == ["▄" * 28] * 14


def test_a_stroke_appears_where_the_ink_is():
    pixels = bytearray(784)
    for row in range(4, 24):
        pixels[row * 28 + 14] = 255  # a vertical stroke in column 14, rows 4..23
    lines = digit_lines(bytes(pixels))
    for i, line in enumerate(lines):
        others = line[:14] + line[15:]
        assert others == " " * 27
        assert line[14] == ("█" if 2 <= i <= 11 else " ")


@pytest.mark.parametrize("size", [0, 783, 785, 28 * 28 * 3])
def test_wrong_length_is_an_error(size):
    with pytest.raises(ValueError, match="784 pixels"):
        digit_lines(bytes(size))


def test_bars_fill_to_the_fraction():
    assert bar(0.0, 10) == " " * 10
    assert bar(1.0, 10) == "█" * 10
    assert bar(0.5, 10) == "█" * 5 + " " * 5
    assert bar(0.5, 10, ascii=True) == "#####     "
    assert bar(2.0, 4) == "████" and bar(-1.0, 4) == "    "
    assert all(len(bar(i / 37, 13)) == 13 for i in range(38))


def test_probability_lines_mark_the_most_likely_class():
    probs = [0.01] * 10
    probs[3] = 0.91
    lines = probability_lines(probs, width=10)
    assert len(lines) == 10
    assert lines[3].startswith("3 ") and lines[3].endswith(" 91.0% <")
    assert sum(line.endswith("<") for line in lines) == 1


def test_digit_grid_wraps_to_the_width_and_labels_each_digit():
    digit = bytearray(784)
    for row in range(8, 20):
        digit[row * 28 + 10 : row * 28 + 18] = b"\xff" * 8
    items = [(bytes(digit), f"label{i}") for i in range(5)]
    lines = digit_grid(items, width=70)  # room for two 30-column cells per row
    label_lines = [line for line in lines if "label" in line]
    assert [line.split() for line in label_lines] == [["label0", "label1"], ["label2", "label3"], ["label4"]]
    assert all(len(line) <= 70 for line in lines)
