"""A comparison in words, per axis: "adam beats sgd by 1.9 ± 0.3 points", "nll vs mse: no
difference at 3 seeds", "nll and cross-entropy gave identical results for every seed: the same
objective". Each level is paired with the best one over members that differ in this axis only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from mlp_tui.runs.compare.grid import value_text
from mlp_tui.runs.compare.stats import ALPHA, mean, paired_p, sd
from mlp_tui.text.render import counted

if TYPE_CHECKING:
    from mlp_tui.runs.compare.plan import Member


class MemberOutcome(Protocol):
    """What the findings read of a member (board.MemberState has it; declared here so that the
    board, which uses these findings, is not imported back)."""

    @property
    def member(self) -> Member: ...
    @property
    def test_accuracy(self) -> float | None: ...
    @property
    def curve(self) -> Sequence[object]: ...  # compared whole, never read


# Pairs of levels that are one objective under two names (identical results are no surprise),
# and why they are.
SAME_OBJECTIVE = {
    ("loss", frozenset({"nll", "cross-entropy"})): "cross-entropy is log-softmax followed by NLL, and the net "
    "gives NLL log-softmax outputs: the same loss of the same logits",
}


def same_run(a: MemberOutcome, b: MemberOutcome) -> bool:
    """The same test accuracy and the same curve, to the last digit. Exact on purpose: this
    says "identical", and a difference in the last bit is a difference (not claimed identical)."""
    return a.test_accuracy == b.test_accuracy and a.curve == b.curve


def _level(member: Member, key: str) -> Any:  # a setting's value: a name, a number, a tuple...
    return member.variant.preset if key == "preset" else member.variant.settings.get(key)


def _level_name(key: str, value: Any) -> str:
    return str(value) if key == "preset" else value_text(key, value)


def axis_lines(key: str, finished: list[MemberOutcome]) -> list[str]:
    """The best level of one axis against each other level, over members that differ in this
    axis only (same other settings, same seed): a paired t-test of their test accuracies."""
    levels: dict[Any, list[MemberOutcome]] = {}
    for s in finished:
        levels.setdefault(_level(s.member, key), []).append(s)
    if len(levels) < 2:
        return []
    best = max(levels, key=lambda v: mean([a for s in levels[v] if (a := s.test_accuracy) is not None]))

    def rest(s: MemberOutcome) -> tuple:
        others = tuple(sorted((k, str(v)) for k, v in s.member.variant.settings.items() if k != key))
        return (s.member.variant.preset if key != "preset" else "", others, s.member.seed)

    by_rest = {value: {rest(s): s for s in states} for value, states in levels.items()}
    lines: list[str] = []
    shown: list[Any] = []  # levels said already
    for value, runs in by_rest.items():
        # A level whose runs all equal another's (not the best's) says so once, not "vs best" twice.
        twin = next((v for v in shown if runs.keys() == by_rest[v].keys()
                     and all(same_run(by_rest[v][k], runs[k]) for k in runs)), None)  # fmt: skip
        other = best if twin is None else twin
        pairs = [(by_rest[other][k], s) for k, s in runs.items() if k in by_rest[other]]
        if value == best or not pairs:
            continue
        shown += [value] if twin is None else []
        a, b = _level_name(key, other), _level_name(key, value)
        lines.append(_pair_line(key, a, b, pairs, len({s.member.seed for _, s in pairs})))
    return lines


def _pair_line(key: str, a: str, b: str, pairs: list, seeds: int) -> str:
    diffs = [x.test_accuracy - y.test_accuracy for x, y in pairs]
    over = counted(seeds, "seed")
    if len(diffs) != seeds:  # the pairs run over the other axes too
        over = f"{counted(len(diffs), 'pair')} ({over})"
    if all(d == 0 for d in diffs):  # no t-test to run: say what happened
        return _same_line(key, a, b, pairs, seeds)
    p = paired_p(diffs)
    points = 100 * mean(diffs)
    if points < 0:  # over the pairs they share, the other one is ahead
        a, b, points = b, a, -points
    if p is None:
        return f"{a} vs {b}: {points:+.1f} points with one pair, too few to tell"
    if p < ALPHA:
        return f"{a} beats {b} by {points:.1f} ± {100 * sd(diffs):.1f} points"
    return f"{a} vs {b}: no difference at {over}"


def _same_line(key: str, a: str, b: str, pairs: list, seeds: int) -> str:
    """Equal test accuracies in every pair: identical runs, or the same accuracy only."""
    what = "identical results" if all(same_run(x, y) for x, y in pairs) else "the same test accuracy"
    where = "for every seed" if len(pairs) == seeds else f"in all {len(pairs)} pairs ({counted(seeds, 'seed')})"
    where = "with 1 seed" if len(pairs) == 1 else where
    why = ": the same objective" if (key, frozenset({a, b})) in SAME_OBJECTIVE else ""
    return f"{a} and {b} gave {what} {where}{why}"
