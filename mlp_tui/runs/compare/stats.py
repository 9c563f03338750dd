"""Mean, spread and t-tests for seeds: is a difference between variants more than noise?

Hand-written rather than a SciPy dependency: Student's t distribution needs only the regularised
incomplete beta function, a dozen lines (Numerical Recipes §6.4, Lentz's continued fraction).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

ALPHA = 0.05  # a difference counts when a two-sided t-test gives p below this


def mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def same_mean(a: float, b: float) -> bool:
    """Equal up to summation order: accuracies are counts over a test set, so distinct means
    differ by far more than 1e-9, while equal ones summed in another order may not be bit-equal."""
    return abs(a - b) <= 1e-9


def sd(xs: Sequence[float]) -> float:
    """Sample standard deviation (n - 1); 0 for a single value."""
    if len(xs) < 2:
        return 0.0
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def _betacf(a: float, b: float, x: float) -> float:
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-14:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with df degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def welch_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Welch's two-sample t-test (unequal variances); None with fewer than 2 values a side."""
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = sd(a) ** 2 / len(a), sd(b) ** 2 / len(b)
    diff = mean(a) - mean(b)
    if va + vb == 0.0:
        return 1.0 if diff == 0 else 0.0
    t = diff / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return t_two_sided_p(t, df)


def paired_p(diffs: Sequence[float]) -> float | None:
    """One-sample t-test of paired differences against 0; None with fewer than 2 pairs."""
    if len(diffs) < 2:
        return None
    s = sd(diffs)
    if s == 0.0:
        return 1.0 if mean(diffs) == 0 else 0.0
    return t_two_sided_p(mean(diffs) / (s / math.sqrt(len(diffs))), len(diffs) - 1)
