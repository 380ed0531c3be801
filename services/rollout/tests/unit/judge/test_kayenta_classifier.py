"""The metric classifier, mirroring Kayenta's ClassifierSuite test by test (same data, same labels).

Each case names the Kayenta test it mirrors; the classifier parameters and the
expected label (and critical flag, where Kayenta asserts one) are Kayenta's.
Kayenta's MeanInequalityClassifier tests have no counterpart: it is not used
by the NetflixACAJudge, and Portico does not implement it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pytest

from portico_rollout.domain.judge.classifier import (
    Direction,
    EffectSize,
    Label,
    MannWhitneyClassifier,
    NanStrategy,
)

EITHER, INCREASE, DECREASE = Direction.EITHER, Direction.INCREASE, Direction.DECREASE


@dataclass(frozen=True)
class Case:
    """One Kayenta ClassifierSuite test."""

    test: str
    classifier: dict[str, Any]
    direction: Direction
    label: Label
    critical: bool | None = None
    options: dict[str, Any] = field(default_factory=dict)


BASE = {"tolerance": 0.10, "confidence": 0.95}
CLES = {"tolerance": 0.20, "confidence": 0.98, "measure": EffectSize.CLES}

CASES = [
    Case("Mann-Whitney Classifier Test: Pass Metric", BASE, EITHER, Label.PASS),
    Case("Mann-Whitney Classifier Test: High Metric", BASE, EITHER, Label.HIGH),
    Case("Mann-Whitney Classifier Test: Low Metric", BASE, EITHER, Label.LOW),
    Case("Mann-Whitney Classifier Directional Test: Increase", BASE, INCREASE, Label.PASS),
    Case("Mann-Whitney Classifier Directional Test: Decrease", BASE, DECREASE, Label.PASS),
    Case(
        "Mann-Whitney Classifier Directional Test: High Metric",
        BASE,
        INCREASE,
        Label.HIGH,
        critical=False,
    ),
    Case("Mann-Whitney Classifier Directional Test: Low Metric", BASE, DECREASE, Label.LOW),
    Case(
        "Mann-Whitney Classifier Test: High Metric (Large Input)",
        BASE,
        EITHER,
        Label.HIGH,
        critical=False,
    ),
    Case(
        "Mann-Whitney Classifier Test - Mean Ratio Effect Size: High",
        {**BASE, "effect_sizes": (0.8, 1.2)},
        EITHER,
        Label.HIGH,
    ),
    Case(
        "Mann-Whitney Classifier Test - Mean Ratio Effect Size: Low",
        {**BASE, "effect_sizes": (0.8, 1.2)},
        DECREASE,
        Label.LOW,
    ),
    Case(
        "Mann-Whitney Classifier Test - Mean Ratio Effect Size: Pass",
        {**BASE, "effect_sizes": (0.5, 1.0)},
        EITHER,
        Label.PASS,
        options={"nan_strategy": NanStrategy.REMOVE},
    ),
    Case(
        "Mann-Whitney Classifier Test - Mean Ratio Effect Size: Pass (Large Input)",
        {**BASE, "effect_sizes": (1.0, 5.0)},
        EITHER,
        Label.PASS,
    ),
    Case(
        "Mann-Whitney Classifier Test - CLES Effect Size: Pass",
        {**CLES, "effect_sizes": (0.5, 0.8)},
        EITHER,
        Label.PASS,
    ),
    Case(
        "Mann-Whitney Classifier Test - CLES Effect Size: High",
        {**CLES, "effect_sizes": (0.2, 0.8)},
        EITHER,
        Label.HIGH,
    ),
    Case(
        "Mann-Whitney Classifier Test - CLES Effect Size: Low",
        {**CLES, "effect_sizes": (0.2, 0.8)},
        EITHER,
        Label.LOW,
    ),
    Case(
        "Mann-Whitney Classifier Test - Critical Effect Size: Critical High",
        {**BASE, "critical_effect_sizes": (1.0, 1.2)},
        EITHER,
        Label.HIGH,
        critical=True,
        options={"critical": True},
    ),
    Case(
        "Mann-Whitney Classifier Test - Critical Effect Size: Critical Low",
        {**BASE, "critical_effect_sizes": (1.2, 1.0)},
        EITHER,
        Label.LOW,
        critical=True,
        options={"critical": True},
    ),
    Case(
        "Mann-Whitney Classifier Test - Critical Effect Size: High",
        {**BASE, "effect_sizes": (1.0, 5.0), "critical_effect_sizes": (1.0, 13.0)},
        EITHER,
        Label.HIGH,
        critical=False,
        options={"critical": True},
    ),
    Case(
        "Mann-Whitney Classifier Test - Critical Effect Size: Pass",
        {**BASE, "effect_sizes": (1.0, 13.0), "critical_effect_sizes": (1.0, 15.0)},
        EITHER,
        Label.PASS,
        critical=False,
        options={"critical": True},
    ),
    Case(
        "Mann-Whitney Classifier Test - Critical Effect Size: Critical High (Default Thresholds)",
        BASE,
        EITHER,
        Label.HIGH,
        critical=True,
        options={"critical": True},
    ),
    Case("Mann-Whitney Tied Observations", BASE, DECREASE, Label.PASS),
    Case("Mann-Whitney Identical Populations", BASE, DECREASE, Label.PASS),
    Case("Mann-Whitney Leading Zero Identical Population", BASE, DECREASE, Label.PASS),
    Case("Mann-Whitney Missing Experiment Data", BASE, DECREASE, Label.NODATA),
    Case(
        "Mann-Whitney Missing Experiment Data: Critical Metric",
        BASE,
        DECREASE,
        Label.NODATA,
        critical=True,
        options={"critical": True},
    ),
    Case(
        "Mann-Whitney Missing Experiment Data with NaN Replacement",
        BASE,
        DECREASE,
        Label.PASS,
        options={"nan_strategy": NanStrategy.REPLACE},
    ),
    Case("Mann-Whitney Majority Tied Observations", BASE, EITHER, Label.PASS),
    Case("Mann-Whitney Tied Ranks", BASE, EITHER, Label.HIGH),
    Case("Mann-Whitney Tied Ranks With Zeros", BASE, EITHER, Label.HIGH),
    Case(
        "Mann-Whitney Zero Mean: High Metric with Effect Size",
        {**BASE, "effect_sizes": (0.8, 1.2)},
        EITHER,
        Label.HIGH,
    ),
    Case(
        "Mann-Whitney Zero Mean: Low Metric with Effect Size",
        {**BASE, "effect_sizes": (0.8, 1.2)},
        EITHER,
        Label.LOW,
    ),
    Case(
        "Mann-Whitney Zero Mean: Critical Metric",
        {**BASE, "critical_effect_sizes": (0.8, 1.2)},
        EITHER,
        Label.HIGH,
        critical=True,
        options={"nan_strategy": NanStrategy.REPLACE, "critical": True},
    ),
    Case(
        "Mann-Whitney Zero Mean: Pass Metric",
        {**BASE, "effect_sizes": (0.8, 1.2)},
        EITHER,
        Label.PASS,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.test)
def test_kayenta_classifier_suite(case: Case, kayenta: Any) -> None:
    """Each Kayenta ClassifierSuite case gets Kayenta's label (and critical flag) here too."""
    data = kayenta("classifier", case.test)
    result = MannWhitneyClassifier(**case.classifier).classify(
        data["controlData"], data["experimentData"], direction=case.direction, **case.options
    )
    assert result.label is case.label, result.reason
    if case.critical is not None:
        assert result.critical is case.critical


def test_missing_data_has_a_reason(kayenta: Any) -> None:
    """Kayenta "Mann-Whitney Missing Data: Reason String": no data on either side says why."""
    data = kayenta("classifier", "Mann-Whitney Missing Data: Reason String")
    result = MannWhitneyClassifier(**BASE).classify(
        data["controlData"], data["experimentData"], direction=DECREASE, critical=True
    )
    assert result.reason


@pytest.mark.parametrize(
    "test",
    [
        "Mann-Whitney Zero Mean: High Metric with Effect Size",
        "Mann-Whitney Zero Mean: Low Metric with Effect Size",
    ],
)
def test_zero_mean_deviation_is_nan(test: str, kayenta: Any) -> None:
    """Kayenta's zero-mean cases: the mean ratio cannot be computed, so the deviation is NaN."""
    data = kayenta("classifier", test)
    result = MannWhitneyClassifier(**BASE, effect_sizes=(0.8, 1.2)).classify(
        data["controlData"], data["experimentData"]
    )
    assert math.isnan(result.deviation)


def test_zero_mean_pass_deviation_is_one(kayenta: Any) -> None:
    """Kayenta "Mann-Whitney Zero Mean: Pass Metric": identical zeros pass with deviation 1.0."""
    data = kayenta("classifier", "Mann-Whitney Zero Mean: Pass Metric")
    result = MannWhitneyClassifier(**BASE, effect_sizes=(0.8, 1.2)).classify(
        data["controlData"], data["experimentData"]
    )
    assert result.deviation == 1.0


def test_missing_data_of_a_metric_that_must_have_it() -> None:
    """A non-critical metric that must have data is NodataFailMetric, which scores as failed."""
    result = MannWhitneyClassifier().classify([1.0, 2.0], [], must_have_data=True)
    assert (result.label, result.critical) == (Label.NODATA_FAIL, False)


def test_the_tie_breaking_noise_is_deterministic() -> None:
    """Fully tied samples get the same noise every time, so a replayed judgment agrees."""
    first = MannWhitneyClassifier().classify([1.0] * 5, [10.0] * 5)
    again = MannWhitneyClassifier().classify([1.0] * 5, [10.0] * 5)
    assert first == again
    assert first.label is Label.HIGH
