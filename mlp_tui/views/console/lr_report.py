"""What `mlp-tui lr-find` shows, and the app's dialog too: the sweep's smoothed loss against the
rate on a log axis with each suggestion marked and named (plotext), and the suggestions as text.

The chart is drawn into any plotext-like object (the `plotext` module for the terminal, a
textual-plotext `Plot` in the app). Without colour (NO_COLOR) or Unicode (LANG=C) each suggestion
is told apart by its own mark, which the legend shows beside its name.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from mlp_tui.text.terminal import asciify

if TYPE_CHECKING:  # torch-free at run time: the engine's result is only read here
    from mlp_tui.engine.lr_find import LrFinding, Suggestion

# A suggestion's mark: Unicode, ASCII (the same order), and colour where colour is on.
MARKS = {"valley": ("●", "*", "red+"), "minimum/10": ("■", "#", "green+"), "steepest": ("▲", "^", "blue+")}
LEGEND_ROOM = 40  # a chart narrower than this has no room for the legend: the text below names them


def rate_text(lr: float) -> str:
    """A rate to two significant figures, as a person would type it (0.0012, 3e-05)."""
    return f"{lr:.2g}"


def draw_chart(plt: Any, finding: LrFinding, *, plain: bool, ascii: bool, width: int) -> None:
    """The smoothed loss against log10(rate), each suggestion marked where the curve shows it.
    The size, theme and building are the caller's. A log axis is drawn as log10 values on a
    linear one, labelled in plain rates (plotext's own log axis fails at some sizes)."""
    xs = [math.log10(r) for r in finding.rates]
    plt.title("smoothed training loss by learning rate")
    plt.xlabel("learning rate (log scale)")
    plt.plot(xs, list(finding.losses), marker="." if ascii else "braille", color=None if plain else "gray")
    named = width >= LEGEND_ROOM
    for s in finding.suggestions:
        unicode_mark, ascii_mark, colour = MARKS[s.name]
        label = f"{s.name} {rate_text(s.lr)}" if named else None
        plt.scatter([math.log10(s.at_lr)], [s.loss], marker=ascii_mark if ascii else unicode_mark,
                    color=None if plain else colour, label=label)  # fmt: skip
    # The last five points (where the loss blows up) leave the top, as fastai's plot skips them:
    # else the divergence sets the scale and the fall worth reading is a flat line at the bottom.
    losses = finding.losses
    bottom, top = min(losses), max(losses[: max(1, len(losses) - 5)])
    plt.ylim(bottom, top + max(top - bottom, 1e-3) * 0.3)  # room over the curve for the legend
    low, high = math.floor(min(xs)), math.ceil(max(xs))
    step = max(1, math.ceil((high - low) / max(1, (width - 12) // 8)))  # room for each label
    ticks = list(range(low, high + 1, step))
    plt.xticks(ticks, [f"{10.0**t:g}" for t in ticks])


def chart_text(finding: LrFinding, width: int, height: int, *, plain: bool, ascii: bool) -> str:
    """The chart for a terminal, as text (escape codes only where colour is on)."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear" if plain else "pro")
    draw_chart(plt, finding, plain=plain, ascii=ascii, width=width)
    text = str(plt.build())
    plt.clear_figure()
    if plain:  # plotext resets the colour at each line's end even when there is none
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return asciify(text) if ascii else text  # the frame's corners and ticks too


def suggestion_lines(finding: LrFinding) -> list[str]:
    """One line a suggestion: its name, rate and the smoothed loss where it was read; which is suggested."""
    lines = []
    for s in finding.suggestions:
        where = (
            f"lowest loss {s.loss:.3g} at lr {rate_text(s.at_lr)}" if s.name == "minimum/10" else f"loss {s.loss:.3g}"
        )
        chosen = "  <- suggested" if s == finding.suggested else ""
        lines.append(f"  {s.name:<11} lr {rate_text(s.lr):<8} ({where}){chosen}")
    return lines


def summary_lines(finding: LrFinding, batch_size: int) -> list[str]:
    """What was swept, how it ended and how long it took."""
    first, last = finding.rates[0], finding.rates[-1]
    lines = [
        f"Swept the learning rate from {rate_text(first)} to {rate_text(last)} over {len(finding.rates)} "
        f"training batches of {batch_size} images in {finding.seconds:.1f} s (on a copy of the model)."
    ]
    if finding.diverged:
        lines.append(f"Stopped at lr {rate_text(last)}: the smoothed loss passed 4x its lowest (or was not finite).")
    return lines


def suggested_choice(finding: Suggestion) -> str:
    """Why the suggested rate is the one it is (engine/lr_find.py: chosen)."""
    if finding.name == "valley":  # the why is in the README: room is short in the app's dialog
        return "Suggested: the valley, for a constant rate (fastai's default)."
    if finding.name == "steepest":
        return "Suggested: the steepest fall, for a schedule that anneals from its peak."
    return "Suggested: minimum/10 (the loss never fell, so there is no valley to trust)."
