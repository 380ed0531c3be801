"""The Mann-Whitney U test with a confidence interval for the location shift.

Kayenta's `MannWhitney` (kayenta-mannwhitney) reproduces R's
`wilcox.test(x, y, conf.int = TRUE)`: the interval and the Hodges-Lehmann
estimate are the roots of the normal approximation of the rank-sum statistic
as a function of the shift `mu`. The ranks, the normal quantile and the
p-value come from scipy; the roots come from the same Brent iteration R's
`uniroot` runs (zeroin, tolerance 1e-4), which Kayenta ports as well, so an
interval ties out with R's to the sixth decimal rather than merely agreeing
within the root finder's tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

_TOLERANCE = 1e-4
_EPSILON = 2.220446049250313e-16
_MAX_ITERATIONS = 1000


@dataclass(frozen=True, slots=True)
class MannWhitneyResult:
    """The interval for the shift `x - y`, its estimate, and the test's two-sided p-value."""

    lower: float
    upper: float
    estimate: float
    p_value: float


class AllTiedError(ValueError):
    """Every observation is tied, so the statistic has no variance and no interval exists."""


def wilcoxon_diff(mu: float, quantile: float, x: Sequence[float], y: Sequence[float]) -> float:
    """The standardised rank-sum of `x - mu` against `y`, minus `quantile` (its root is the bound).

    With continuity and tie corrections, exactly as R (and Kayenta) compute it.
    """
    nx, ny = float(len(x)), float(len(y))
    shifted = np.asarray(x, dtype=float) - mu
    ranks = stats.rankdata(np.concatenate([shifted, np.asarray(y, dtype=float)]))
    _, ties = np.unique(ranks, return_counts=True)
    dz = float(ranks[: len(x)].sum()) - nx * (nx + 1) / 2 - nx * ny / 2
    correction = math.copysign(0.5, dz) if dz != 0 else 0.0
    tie_term = float((ties.astype(float) ** 3 - ties).sum()) / ((nx + ny) * (nx + ny - 1))
    sigma = math.sqrt((nx * ny / 12) * ((nx + ny + 1) - tie_term))
    if sigma == 0:
        raise AllTiedError("cannot compute a confidence interval when all observations are tied")
    return (dz - correction) / sigma - quantile


def zeroin(  # noqa: PLR0912 - R's zeroin, kept step for step so it ties out
    low: float, high: float, f_low: float, f_high: float, f: Callable[[float], float]
) -> float:
    """Brent's root finder as R's `uniroot` runs it (Kayenta's BrentSolver), tolerance 1e-4."""
    a, b, c = low, high, low
    fa, fb, fc = f_low, f_high, f_low
    if fa == 0:
        return a
    if fb == 0:
        return b
    for _ in range(_MAX_ITERATIONS + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * _EPSILON * abs(b) + _TOLERANCE / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:  # inverse quadratic interpolation
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b


def mann_whitney(
    x: Sequence[float], y: Sequence[float], confidence: float = 0.95, mu: float = 0.0
) -> MannWhitneyResult:
    """Two-sided test of a location shift `mu` between `x` and `y`, with its interval.

    The interval and estimate describe the median of `x_i - y_j`, not the
    difference of the medians. Raises AllTiedError when every value is tied.
    """
    if not x or not y:
        raise ValueError("both samples need at least one observation")
    alpha = 1.0 - confidence
    mu_min = min(x) - max(y)
    mu_max = max(x) - min(y)

    def root(quantile: float) -> float:
        f_low = wilcoxon_diff(mu_min, quantile, x, y)
        f_high = wilcoxon_diff(mu_max, quantile, x, y)
        if f_low <= 0:
            return mu_min
        if f_high >= 0:
            return mu_max
        return zeroin(mu_min, mu_max, f_low, f_high, lambda m: wilcoxon_diff(m, quantile, x, y))

    z = float(stats.norm.ppf(alpha / 2))
    lower, upper = root(-z), root(z)
    estimate = zeroin(
        mu_min,
        mu_max,
        wilcoxon_diff(mu_min, 0.0, x, y),
        wilcoxon_diff(mu_max, 0.0, x, y),
        lambda m: wilcoxon_diff(m, 0.0, x, y),
    )
    shifted = np.asarray(x, dtype=float) - mu
    p_value = float(stats.mannwhitneyu(shifted, np.asarray(y, dtype=float)).pvalue)
    return MannWhitneyResult(lower=lower, upper=upper, estimate=estimate, p_value=p_value)
