"""The Mann-Whitney interval, mirroring Kayenta's MannWhitneySuite (and its R tie-outs)."""

from __future__ import annotations

from typing import Any

import pytest
from scipy import stats

from portico_rollout.domain.judge.mannwhitney import (
    AllTiedError,
    mann_whitney,
    wilcoxon_diff,
    zeroin,
)

E = 1e-6


def test_wilcoxon_diff_function(kayenta: Any) -> None:
    """Kayenta "Wilcoxon Diff Function": the standardised statistic at two shifts."""
    case = kayenta("mannwhitney", "Wilcoxon Diff Function")
    assert wilcoxon_diff(0, 0, case["x"], case["y"]) == pytest.approx(-1.229416, abs=E)
    assert wilcoxon_diff(5, 0, case["x"], case["y"]) == pytest.approx(-35.80606, abs=E)


def test_z_quant() -> None:
    """Kayenta "Test zQuant": the 98% two-sided normal quantile."""
    assert stats.norm.ppf(0.02 / 2) == pytest.approx(-2.326348, abs=E)


def test_confidence_interval_and_estimate() -> None:
    """Kayenta "Mann-Whitney Confidence Interval & Estimate": a clean shift of four points."""
    result = mann_whitney([10.0, 20.0, 30.0, 40.0], [1.0, 2.0, 3.0, 4.0])
    assert (result.lower, result.upper) == (pytest.approx(6.0, abs=E), pytest.approx(39.0, abs=E))
    assert result.estimate == pytest.approx(22.5, abs=E)


def test_confidence_interval_and_estimate_problem_case(kayenta: Any) -> None:
    """Kayenta "... Problem Case": 850 near-identical ratios at 98% confidence."""
    case = kayenta("mannwhitney", "Mann-Whitney Confidence Interval & Estimate: Problem Case")
    result = mann_whitney(case["experiment"], case["control"], confidence=0.98)
    assert result.lower == pytest.approx(-1.4808028936386108e-5, abs=E)
    assert result.upper == pytest.approx(1.808255910873413e-5, abs=E)
    assert result.estimate == pytest.approx(1.808255910873413e-5, abs=E)


def test_tie_out_with_r(kayenta: Any) -> None:
    """Kayenta "... Tie out with R Version": R's wilcox.test interval to 1e-6, estimate to 1e-4."""
    case = kayenta(
        "mannwhitney", "Mann-Whitney Confidence Interval & Estimate: Tie out with R Version"
    )
    result = mann_whitney(case["experiment"], case["control"])
    assert result.lower == pytest.approx(-0.500002521696696, abs=E)
    assert result.upper == pytest.approx(-3.486287505871302e-5, abs=E)
    assert result.estimate == pytest.approx(-0.4999393907180323, abs=1e-4)


def test_tie_out_with_r_large(kayenta: Any) -> None:
    """Kayenta "... Tie out with R Version (Large)": 180 heavily tied values at 98%."""
    case = kayenta(
        "mannwhitney", "Mann-Whitney Confidence Interval & Estimate: Tie out with R Version (Large)"
    )
    result = mann_whitney(case["experiment"], case["control"], confidence=0.98)
    assert result.lower == pytest.approx(-0.4999173250549087, abs=E)
    assert result.upper == pytest.approx(-6.912685789769486e-6, abs=E)
    assert result.estimate == pytest.approx(-3.45044082729315e-5, abs=1e-4)


def test_intermediate_values(kayenta: Any) -> None:
    """Kayenta "Mann-Whitney Intermediate Values / Variables": bounds, roots and estimate vs R."""
    case = kayenta("mannwhitney", "Mann-Whitney Intermediate Values / Variables")
    x, y = case["x"], case["y"]
    mu_min, mu_max = min(x) - max(y), max(x) - min(y)
    assert (mu_min, mu_max) == (pytest.approx(-3.124999999999986), pytest.approx(5.555555555555557))
    zq = -stats.norm.ppf(0.05 / 2)
    assert zq == pytest.approx(1.9599639845400536, abs=E)
    assert wilcoxon_diff(mu_min, zq, x, y) == pytest.approx(17.090968923762254, abs=E)
    assert wilcoxon_diff(mu_max, zq, x, y) == pytest.approx(-20.997687930433106, abs=E)
    assert wilcoxon_diff(mu_min, -zq, x, y) == pytest.approx(21.01089689284236, abs=E)
    assert wilcoxon_diff(mu_max, -zq, x, y) == pytest.approx(-17.077759961353, abs=E)

    def solve(q: float) -> float:
        return zeroin(
            mu_min,
            mu_max,
            wilcoxon_diff(mu_min, q, x, y),
            wilcoxon_diff(mu_max, q, x, y),
            lambda m: wilcoxon_diff(m, q, x, y),
        )

    assert solve(zq) == pytest.approx(3.521755377702165e-5, abs=E)
    assert solve(-zq) == pytest.approx(2.02456461662334e-5, abs=E)
    assert solve(0.0) == pytest.approx(2.6279243045155653e-5, abs=E)


def test_all_tied_observations_have_no_interval() -> None:
    """With every value tied the statistic has no variance: an error says so, no division by 0."""
    with pytest.raises(AllTiedError):
        mann_whitney([1.0, 1.0], [1.0, 1.0, 1.0])


def test_the_p_value_is_scipys_mann_whitney_u() -> None:
    """The p-value reported with the interval is scipy.stats.mannwhitneyu's, two-sided."""
    x, y = [10.0, 20.0, 30.0, 40.0, 50.0], [1.0, 2.0, 3.0, 4.0, 5.0]
    assert mann_whitney(x, y).p_value == stats.mannwhitneyu(x, y).pvalue
