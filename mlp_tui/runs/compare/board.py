"""The state of a comparison, read from its member directories: each member's curve and status,
each variant's test accuracy mean ± sd, and honest verdicts. Used alike by the headless printer,
the leaderboard files, the compare screen and `watch`; a member's metrics.jsonl is the only source.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlp_tui.core.events import EndStatus
from mlp_tui.runs.compare.findings import axis_lines, same_run
from mlp_tui.runs.compare.plan import Member, Plan
from mlp_tui.runs.compare.stats import ALPHA, mean, same_mean, sd, welch_p
from mlp_tui.runs.layout import METRICS_FILE
from mlp_tui.runs.status import run_status
from mlp_tui.runs.store import MetricsTail

RUNNING = ("running", "paused", "stale")  # stale: silent, but not known to have ended


@dataclass
class Point:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None


@dataclass
class MemberState:
    """One member as its metrics.jsonl tells it so far."""

    member: Member
    status: str = "pending"
    epochs: int = 0
    points: dict[int, Point] = field(default_factory=dict)  # by epoch: a resumed epoch is told once
    best_epoch: int | None = None
    test_accuracy: float | None = None
    seconds: float = 0.0
    message: str = ""
    reason: str = ""  # a failed member's RunFailed reason ("disk-full": continued by compare --resume)
    _tail: MetricsTail | None = None
    _last: list[dict[str, Any]] = field(default_factory=list)
    _epoch_seconds: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.epochs = self.epochs or self.member.variant.config.epochs  # until the run says otherwise

    @property
    def epochs_done(self) -> int:
        return max(self.points, default=0)

    @property
    def finished(self) -> bool:
        return EndStatus.trained(self.status) and self.test_accuracy is not None

    @property
    def curve(self) -> list[Point]:
        return [self.points[e] for e in sorted(self.points)]

    def update(self) -> bool:
        """Read what the member wrote since the last call; True if anything changed."""
        if self._tail is None:
            self._tail = MetricsTail(self.member.path / METRICS_FILE)
        records = self._tail.read()
        for r in records:
            kind = r.get("event")
            if kind == "run_started":
                self.epochs = int(r.get("config", {}).get("epochs", self.epochs))
                self.reason = ""
            elif kind == "epoch_end":
                self.points[int(r["epoch"])] = Point(
                    int(r["epoch"]), r["train_loss"], r["train_accuracy"], r.get("val_loss"), r.get("val_accuracy")
                )
                self._epoch_seconds[int(r["epoch"])] = float(r.get("seconds", 0.0))
                self.seconds = sum(self._epoch_seconds.values())
                self.epochs = int(r.get("epochs", self.epochs))
            elif kind == "run_finished":
                self.best_epoch, self.test_accuracy = r.get("best_epoch"), r.get("test_accuracy")
                self.message = r.get("message", "")
            elif kind == "run_failed":
                self.message, self.reason = r.get("message", ""), r.get("reason", "")
        self._last = records[-1:] or self._last
        before = self.status
        if self._last or (self.member.path / METRICS_FILE).exists():
            self.status = run_status(self.member.path, self._last)
            self.status = "starting" if self.status == "empty" else self.status
        return bool(records) or self.status != before


@dataclass
class VariantRow:
    index: int
    name: str
    members: list[MemberState]
    verdict: str = ""  # "leader", "not distinguishable with 3 seeds", "worse (p = 0.01)", "identical to nll"
    p_value: float | None = None
    rank: int = 0  # shared by variants with the same mean: a tie
    tied: bool = False
    identical_to: str = ""  # an earlier variant whose every seed gave the same results

    @property
    def rank_text(self) -> str:
        """ "=1" for a tie, as in a sports table; "3" otherwise."""
        return f"={self.rank}" if self.tied else str(self.rank)

    @property
    def accuracies(self) -> list[float]:
        return [m.test_accuracy for m in self.members if m.finished and m.test_accuracy is not None]

    @property
    def mean(self) -> float | None:
        return mean(self.accuracies) if self.accuracies else None

    @property
    def sd(self) -> float | None:
        return sd(self.accuracies) if self.accuracies else None

    @property
    def best_epoch(self) -> str:
        epochs = [m.best_epoch for m in self.members if m.finished and m.best_epoch]
        if not epochs:
            return "-"
        low, high = min(epochs), max(epochs)
        return str(low) if low == high else f"{statistics.median_low(epochs)} ({low}-{high})"

    @property
    def seconds(self) -> float:
        done = [m.seconds for m in self.members if m.epochs_done]
        return mean(done) if done else 0.0

    @property
    def progress(self) -> float:
        """Epochs trained over epochs planned; a member that stopped early is complete."""
        total = sum(max(m.epochs, 1) for m in self.members)
        done = sum(max(m.epochs, 1) if m.finished else min(m.epochs_done, m.epochs) for m in self.members)
        return done / total if total else 0.0

    @property
    def status(self) -> str:
        n = len(self.members)
        counts: dict[str, int] = {}
        for m in self.members:
            key = "done" if m.finished else m.status
            counts[key] = counts.get(key, 0) + 1
        if counts.get("done") == n:
            return "done"
        order = ("running", "starting", "paused", "done", "pending", "stopped", "interrupted", "died", "failed")
        parts = [f"{counts[k]} {k}" for k in order if k in counts]
        parts += [f"{c} {k}" for k, c in counts.items() if k not in order]
        return ", ".join(parts)

    def accuracy_text(self, digits: int = 2) -> str:
        mean, sd = self.mean, self.sd
        if mean is None or sd is None:
            return "-"
        if len(self.accuracies) == 1:
            return f"{100 * mean:.{digits}f} %"
        return f"{100 * mean:.{digits}f} ± {100 * sd:.{digits}f}"


class Board:
    """A comparison as it stands: members read from their directories, rows ranked."""

    def __init__(self, plan: Plan, folder: Path, members: list[Member] | None = None) -> None:
        self.plan, self.folder = plan, Path(folder)
        self.states = [MemberState(m) for m in (members if members is not None else plan.members(folder))]

    def update(self) -> bool:
        changed = False
        for state in self.states:
            # A member that ended well never changes again; a failed one may be tried again.
            if EndStatus.trained(state.status) and state._tail is not None:
                continue
            changed |= state.update()
        return changed

    @property
    def done(self) -> int:
        return sum(1 for s in self.states if s.status not in ("pending", "starting", *RUNNING))

    @property
    def finished(self) -> int:
        return sum(1 for s in self.states if s.finished)

    def rows(self) -> list[VariantRow]:
        """Variants ranked by mean test accuracy (those without one last, in grid order), with
        each one's verdict against the leader: Welch's t-test over its finished seeds."""
        by_variant: dict[int, VariantRow] = {}
        for s in self.states:
            row = by_variant.setdefault(s.member.index, VariantRow(s.member.index, s.member.variant.name, []))
            row.members.append(s)
        rows = sorted(by_variant.values(), key=lambda r: (r.mean is None, -(r.mean or 0.0), r.index))
        _rank(rows)
        leader = rows[0] if rows and rows[0].mean is not None else None
        for row in rows:
            row.verdict, row.p_value = _verdict(row, leader)
        return rows

    def summary(self) -> list[str]:
        """In words, per axis: "adam beats sgd by 1.9 ± 0.3 points; nll vs mse: no difference at 3 seeds"."""
        lines = []
        for key in self.plan.axes:
            lines += axis_lines(key, [s for s in self.states if s.finished])
        return lines


def _rank(rows: list[VariantRow]) -> None:
    """Ranks as in a sports table: variants with the same mean share one ("=1", "=1", "3"); a
    variant that gave the same results as one above it for every seed says so."""
    for i, row in enumerate(rows):
        above = rows[i - 1] if i else None
        mine, theirs = row.mean, above.mean if above is not None else None
        same = mine is not None and theirs is not None and same_mean(mine, theirs)
        row.rank = above.rank if above is not None and same else i + 1
        row.identical_to = next((r.name for r in rows[:i] if identical(r, row)), "")
    for row in rows:
        row.tied = row.mean is not None and sum(r.rank == row.rank for r in rows) > 1


def identical(a: VariantRow, b: VariantRow) -> bool:
    """The same seeds finished in both, each with the same test accuracy and curve."""
    mine = {m.member.seed: m for m in a.members if m.finished}
    theirs = {m.member.seed: m for m in b.members if m.finished}
    return bool(mine) and mine.keys() == theirs.keys() and all(same_run(mine[k], theirs[k]) for k in mine)


def _verdict(row: VariantRow, leader: VariantRow | None) -> tuple[str, float | None]:
    n = len(row.accuracies)
    if leader is None or n == 0:
        return "", None
    if row is leader:
        return ("leader" if len(leader.accuracies) > 1 else "leader (1 seed: no spread yet)"), None
    p = welch_p(leader.accuracies, row.accuracies)
    if row.identical_to:  # says more than any test against the leader could
        return f"identical to {row.identical_to}", p
    if p is None:
        return f"too few seeds to tell ({min(n, len(leader.accuracies))})", None
    if p >= ALPHA:
        return f"not distinguishable with {min(n, len(leader.accuracies))} seeds", p
    return f"worse (p = {p:.2g})", p
