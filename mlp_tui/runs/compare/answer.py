"""A lesson's answer, built from what its comparison measured: each level of the question's axis
with its test accuracy (mean ± sd, as the leaderboard prints it) and whether the difference from
the best level is real (Welch's t-test, as the leaderboard's verdicts), per condition (the
lesson's other axes): "bias 91.95 ± 0.12 %, no bias 91.40 ± 0.20 %: a real difference at 3 seeds
(p = 0.01)". Nothing here is written in advance.
"""

from __future__ import annotations

from typing import Any

from mlp_tui.runs.compare.board import Board, VariantRow, identical
from mlp_tui.runs.compare.findings import SAME_OBJECTIVE, axis_lines
from mlp_tui.runs.compare.grid import SEPARATOR, Variant, value_text
from mlp_tui.runs.compare.stats import ALPHA, welch_p
from mlp_tui.text.render import counted


def _varying(board: Board) -> list[str]:
    """The comparison's axes (the presets first, when several) that take two values or more."""
    variants = board.plan.variants
    return [k for k in board.plan.axes if len({str(_value(v, k)) for v in variants}) > 1]


def question_axis(board: Board) -> str:
    """The setting the lesson asks about: its first axis with two values or more, else the
    presets (a lesson of several presets may vary nothing)."""
    return next((k for k in _varying(board) if k != "preset"), "preset")


def _value(variant: Variant, key: str) -> Any:
    return variant.preset if key == "preset" else variant.settings.get(key)


def _variant(row: VariantRow) -> Variant:
    return row.members[0].member.variant


def _name(row: VariantRow, key: str) -> str:
    value = _value(_variant(row), key)
    return str(value) if key == "preset" else value_text(key, value)


def _condition(row: VariantRow, key: str, axes: list[str]) -> str:
    """What else this variant's cell is: the values of the lesson's other axes ("hidden 64")."""
    return SEPARATOR.join(_name(row, k) for k in axes if k != key)


def answer_lines(board: Board) -> list[str]:
    """The answer: a heading, then a line per condition. Provisional until every run finished."""
    key, axes = question_axis(board), _varying(board)
    groups: dict[str, list[VariantRow]] = {}
    for row in sorted(board.rows(), key=lambda r: r.index):
        groups.setdefault(_condition(row, key, axes), []).append(row)
    total, done, ended = len(board.states), board.finished, board.done
    if done == 0 and ended < total:
        return [f"The answer comes as the runs finish (0 of {total} so far)."]
    head = f"Answer, as measured: test accuracy, mean ± sd over {counted(board.plan.seeds, 'seed')}"
    if done < total:  # each clause below says how many seeds it has
        head += f" (so far: {done} of {total} runs finished)" if ended < total else (
            f" ({done} of {total} runs finished; {total - done} failed or stopped)")  # fmt: skip
    lines = [head + ":"]
    for condition, rows in groups.items():
        text = _group_line(rows, key)
        lines.append(f"{condition}: {text}" if condition else text)
    if len(groups) > 1:  # the conditions pooled: each pair the same but for this setting, by seed
        pooled = axis_lines(key, [s for s in board.states if s.finished])
        together = "Both conditions" if len(groups) == 2 else f"All {len(groups)} conditions"
        lines += [f"{together} together, paired by seed: {line}" for line in pooled]
    return lines


def _group_line(rows: list[VariantRow], key: str) -> str:
    """The levels of one condition, best first, then how the others stand against the best."""
    measured = sorted((r for r in rows if r.mean is not None), key=lambda r: -(r.mean or 0.0))
    parts = [f"{_name(r, key)} {r.accuracy_text()}{'' if len(r.accuracies) == 1 else ' %'}" for r in measured]
    parts += [f"{_name(r, key)}: no result ({r.status})" for r in rows if r.mean is None]
    text = ", ".join(parts)
    if len(measured) < 2:
        return text
    best, others = measured[0], measured[1:]
    if len(others) == 1:
        text += f": {_clause(best, others[0])}"
    else:
        text += f". Best: {_name(best, key)}; " + _grouped(best, others, key)
    for (axis, names), why in SAME_OBJECTIVE.items():
        twins = [r for r in measured if axis == key and _value(_variant(r), key) in names]
        if len(twins) == 2:
            a, b = twins
            text += f". {_name(a, key)} and {_name(b, key)} are one objective under two names ({why}): "
            text += _clause(a, b)
    return text


def _grouped(best: VariantRow, others: list[VariantRow], key: str) -> str:
    """ "a real difference from sgd (p = 0.001), adagrad (p = 0.02); no difference from adamw (p = 0.4)" """
    real: list[str] = []
    same: list[str] = []
    other: list[str] = []
    for row in others:
        p = welch_p(best.accuracies, row.accuracies)
        named = f"{_name(row, key)} (p = {p:.2g})" if p is not None else _name(row, key)
        if identical(best, row):
            other.append(f"identical results to {_name(row, key)}")
        elif p is None:
            other.append(f"{_name(row, key)}: too few seeds to tell")
        else:
            (real if p < ALPHA else same).append(named)
    n = min(len(r.accuracies) for r in [best, *others])
    said = []
    if real:
        said.append(f"a real difference from {', '.join(real)}")
    if same:
        said.append(f"no difference at {counted(n, 'seed')} from {', '.join(same)}")
    return "; ".join(said + other)


def _clause(a: VariantRow, b: VariantRow) -> str:
    """How two levels stand: identical, a real difference, or none at this many seeds."""
    n = min(len(a.accuracies), len(b.accuracies))
    if identical(a, b):
        return f"identical results for every seed ({counted(n, 'seed')})"
    p = welch_p(a.accuracies, b.accuracies)
    if p is None:
        return f"too few seeds to tell ({counted(n, 'seed')})"
    if p < ALPHA:
        return f"a real difference at {counted(n, 'seed')} (p = {p:.2g})"
    return f"no difference at {counted(n, 'seed')} (p = {p:.2g})"
