"""A whole judgment: metrics classified, muted ones left out, scored, and the verdict."""

from __future__ import annotations

import math

import pytest

from portico_rollout.domain.judge.classifier import Direction, Label
from portico_rollout.domain.judge.config import JudgmentConfig, MetricConfig
from portico_rollout.domain.judge.judge import judge
from portico_rollout.domain.judge.scorer import Verdict
from portico_rollout.errors import InvalidCriteriaError

BASELINE_ERRORS = [0.010, 0.012, 0.009, 0.011, 0.010, 0.013, 0.008, 0.010, 0.011, 0.012]
BASELINE_LATENCY = [100.0, 104.0, 98.0, 101.0, 99.0, 103.0, 97.0, 102.0, 100.0, 101.0]


def config(**changes: object) -> JudgmentConfig:
    values: dict[str, object] = {
        "metrics": (
            MetricConfig("error_rate", groups=("errors",)),
            MetricConfig("latency_p95", groups=("latency",)),
        ),
        "group_weights": (("errors", 50.0), ("latency", 50.0)),
    }
    values.update(changes)
    return JudgmentConfig(**values)  # type: ignore[arg-type]


def test_a_canary_like_its_baseline_passes() -> None:
    """The same distributions on both sides score 100 and pass."""
    result = judge(
        config(),
        {
            "error_rate": (BASELINE_ERRORS, list(reversed(BASELINE_ERRORS))),
            "latency_p95": (BASELINE_LATENCY, list(reversed(BASELINE_LATENCY))),
        },
    )
    assert (result.score, result.verdict) == (100.0, Verdict.PASS)


def test_a_canary_with_five_times_the_errors_fails_its_group() -> None:
    """Errors High and latency Pass: half the weight fails, 50 < 75 fails the judgment."""
    result = judge(
        config(),
        {
            "error_rate": (BASELINE_ERRORS, [e * 5 for e in BASELINE_ERRORS]),
            "latency_p95": (BASELINE_LATENCY, BASELINE_LATENCY),
        },
    )
    assert result.score == 50.0
    assert result.verdict is Verdict.FAIL
    assert [m.classification.label for m in result.metrics] == [Label.HIGH, Label.PASS]
    assert "error_rate High" in result.reason


def test_between_the_thresholds_is_marginal() -> None:
    """A score of 50 with thresholds 90/40 is Marginal: the phase would hold."""
    result = judge(
        config(pass_threshold=90.0, marginal_threshold=40.0),
        {
            "error_rate": (BASELINE_ERRORS, [e * 5 for e in BASELINE_ERRORS]),
            "latency_p95": (BASELINE_LATENCY, BASELINE_LATENCY),
        },
    )
    assert result.verdict is Verdict.MARGINAL


def test_a_faster_canary_is_not_a_regression_when_only_increase_is_bad() -> None:
    """Direction increase: a canary with half the latency passes (Kayenta's directional test)."""
    result = judge(
        config(
            metrics=(MetricConfig("latency_p95", direction=Direction.INCREASE),), group_weights=()
        ),
        {"latency_p95": (BASELINE_LATENCY, [v / 2 for v in BASELINE_LATENCY])},
    )
    assert result.verdict is Verdict.PASS


def test_muted_metrics_are_reported_but_not_scored() -> None:
    """A muted High metric leaves the score at 100; its label is still in the result."""
    metrics = (
        MetricConfig("error_rate", groups=("errors",), muted=True),
        MetricConfig("latency_p95", groups=("latency",)),
    )
    result = judge(
        config(metrics=metrics, group_weights=()),
        {
            "error_rate": (BASELINE_ERRORS, [e * 5 for e in BASELINE_ERRORS]),
            "latency_p95": (BASELINE_LATENCY, BASELINE_LATENCY),
        },
    )
    assert result.score == 100.0
    assert result.metrics[0].classification.label is Label.HIGH


def test_no_samples_at_all_fail_for_lack_of_data() -> None:
    """All metrics Nodata: Kayenta's 50% rule forces the score to 0."""
    result = judge(config(), {})
    assert (result.score, result.verdict) == (0.0, Verdict.FAIL)
    assert "NODATA" in result.reason


def test_nan_intervals_are_removed_before_judging() -> None:
    """Intervals without data (NaN) are dropped under the default NaN strategy."""
    result = judge(
        config(),
        {
            "error_rate": ([*BASELINE_ERRORS, math.nan], [math.nan, *BASELINE_ERRORS]),
            "latency_p95": (BASELINE_LATENCY, BASELINE_LATENCY),
        },
    )
    assert result.verdict is Verdict.PASS
    assert result.metrics[0].canary_count == 11


def test_the_result_serialises_without_nan() -> None:
    """The JSON form (stored as evidence) writes NaN as null."""
    result = judge(config(), {})
    assert all(m["deviation"] is None or m["deviation"] == 1.0 for m in result.to_json()["metrics"])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"metrics": ()}, "judgment.metrics"),
        ({"confidence": 1.0}, "judgment.confidence"),
        ({"pass_threshold": 50.0, "marginal_threshold": 60.0}, "judgment.thresholds"),
        ({"group_weights": (("errors", 80.0), ("latency", 30.0))}, "judgment.group_weights"),
        ({"group_weights": (("nope", 10.0),)}, "judgment.group_weights"),
    ],
)
def test_a_bad_configuration_is_refused(changes: dict[str, object], field: str) -> None:
    """Each impossible setting is refused with the field it concerns."""
    with pytest.raises(InvalidCriteriaError) as raised:
        config(**changes)
    assert raised.value.field == field


def test_an_unknown_metric_is_refused() -> None:
    """Only the metrics an outcome series yields can be judged."""
    with pytest.raises(InvalidCriteriaError, match="cpu"):
        MetricConfig("cpu")


def test_the_configuration_round_trips_through_json() -> None:
    """What is stored with a rollout reads back as the same configuration."""
    original = config(confidence=0.95, interval_seconds=10)
    assert JudgmentConfig.from_json(original.to_json()) == original
