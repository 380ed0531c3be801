"""Group and summary scores, mirroring Kayenta's ScorerSuite, and the score thresholds."""

from __future__ import annotations

import pytest

from portico_rollout.domain.judge.classifier import Label
from portico_rollout.domain.judge.scorer import (
    ScoredMetric,
    Verdict,
    WeightedSumScorer,
    classify_score,
)

PASS, HIGH, LOW, NODATA = Label.PASS, Label.HIGH, Label.LOW, Label.NODATA


def metric(label: Label, group: str = "test-group", *, critical: bool = False) -> ScoredMetric:
    return ScoredMetric(f"m-{label.value}-{group}", label, (group,), critical, f"{label.value}")


@pytest.mark.parametrize(
    ("test", "weights", "metrics", "summary"),
    [
        ("Single Metric Pass", {}, [metric(PASS)], 100.0),
        ("Single Metric Fail", {}, [metric(HIGH)], 0.0),
        ("Single group Nodata", {}, [metric(NODATA, "test-group-nodata")], 0.0),
        (
            "Two Groups, one Pass, one Nodata",
            {},
            [metric(PASS, "test-group-pass"), metric(PASS, "test-group-pass"), metric(NODATA, "n")],
            100.0,
        ),
        ("One Group, Two Metrics", {}, [metric(PASS), metric(HIGH)], 50.0),
        ("One Group, Three Metrics", {}, [metric(PASS), metric(HIGH), metric(LOW)], 33.33),
        (
            "Two Groups, Three Metrics",
            {"group-1": 75.0, "group-2": 25.0},
            [metric(PASS, "group-1"), metric(PASS, "group-1"), metric(HIGH, "group-2")],
            75.0,
        ),
        (
            "Two Groups, Three Metrics (Equal Weight)",
            {"group-1": 50.0, "group-2": 50.0},
            [metric(PASS, "group-1"), metric(HIGH, "group-1"), metric(HIGH, "group-2")],
            25.0,
        ),
        (
            "Two Groups, Three Metrics (Equal Weight), one NoData",
            {"group-1": 50.0, "group-2": 50.0},
            [metric(PASS, "group-1"), metric(NODATA, "group-1"), metric(HIGH, "group-2")],
            50.0,
        ),
        (
            "Two Metrics, one good (normal), one fail (critical)",
            {},
            [metric(PASS), metric(HIGH, critical=True)],
            0.0,
        ),
        (
            "Two Metrics, one low (normal), one good (critical)",
            {},
            [metric(LOW), metric(PASS, critical=True)],
            50.0,
        ),
        (
            "Two Metrics, one good (normal), one nodata (critical)",
            {},
            [metric(PASS), metric(NODATA, critical=True)],
            0.0,
        ),
        (
            "Two Groups (Unequal Weight), Four Metrics",
            {"group1": 15.0, "group2": 85.0},
            [
                metric(HIGH, "group1"),
                metric(LOW, "group1"),
                metric(PASS, "group1"),
                metric(HIGH, "group2"),
            ],
            5.0,
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_kayenta_scorer_suite(
    test: str, weights: dict[str, float], metrics: list[ScoredMetric], summary: float
) -> None:
    """Each Kayenta ScorerSuite "Weighted Sum Group Scorer" case scores the same here."""
    assert WeightedSumScorer(weights).score(metrics).summary == summary


def test_single_nodata_group_scores_zero() -> None:
    """Kayenta "Single group Nodata": one group, no judged metric, group score 0."""
    scores = WeightedSumScorer({}).score([metric(NODATA, "test-group-nodata")])
    assert [(g.score, g.no_data) for g in scores.groups] == [(0.0, True)]


def test_one_pass_group_and_one_nodata_group() -> None:
    """Kayenta "Two Groups, one Pass, one Nodata": group scores 0 and 100."""
    scores = WeightedSumScorer({}).score(
        [metric(PASS, "test-group-pass"), metric(PASS, "test-group-pass"), metric(NODATA, "n")]
    )
    assert sorted(g.score for g in scores.groups) == [0.0, 100.0]


def test_a_critical_failure_says_which_metric() -> None:
    """A critical metric that did not pass forces 0 and is named in the reason."""
    scores = WeightedSumScorer({}).score([metric(PASS), metric(HIGH, critical=True)])
    assert scores.reason == "Canary Failed: High"


@pytest.mark.parametrize(
    ("score", "verdict"),
    [
        (100.0, Verdict.PASS),
        (95.0, Verdict.PASS),
        (94.99, Verdict.MARGINAL),
        (75.0, Verdict.MARGINAL),
        (74.99, Verdict.FAIL),
        (0.0, Verdict.FAIL),
    ],
)
def test_threshold_score_classifier(score: float, verdict: Verdict) -> None:
    """Kayenta's ThresholdScoreClassifier: pass at or above 95, marginal at or above 75."""
    assert classify_score(score, pass_threshold=95, marginal_threshold=75) is verdict
