"""A whole judgment: classify each configured metric, score the groups, classify the score.

Kayenta's NetflixACAJudge flow. A metric whose classification raises (say an
interval cannot be computed) is labelled Error, as Kayenta does, and counts
as no judged metric in its group. Muted metrics are classified and reported
but left out of the score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portico_rollout.domain.judge.classifier import Classification, Label
from portico_rollout.domain.judge.config import JudgmentConfig, MetricConfig
from portico_rollout.domain.judge.scorer import (
    GroupScore,
    ScoredMetric,
    Verdict,
    WeightedSumScorer,
    classify_score,
)

# (baseline values, canary values) per metric name, one value per interval.
Samples = Mapping[str, tuple[Sequence[float], Sequence[float]]]


@dataclass(frozen=True, slots=True)
class MetricResult:
    """One metric's classification, with the sample sizes it was made on."""

    name: str
    groups: tuple[str, ...]
    muted: bool
    classification: Classification
    baseline_count: int
    canary_count: int


@dataclass(frozen=True, slots=True)
class Judgment:
    """The score, its verdict, why, and every metric and group behind it."""

    score: float
    verdict: Verdict
    reason: str
    metrics: tuple[MetricResult, ...]
    groups: tuple[GroupScore, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, NaN written as null."""
        return {
            "score": self.score,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "metrics": [
                {
                    "name": m.name,
                    "groups": list(m.groups),
                    "muted": m.muted,
                    "label": m.classification.label.value,
                    "reason": m.classification.reason,
                    "critical": m.classification.critical,
                    "deviation": _finite(m.classification.deviation),
                    "effect_size": _finite(m.classification.effect_size),
                    "lower": _finite(m.classification.lower),
                    "upper": _finite(m.classification.upper),
                    "estimate": _finite(m.classification.estimate),
                    "p_value": _finite(m.classification.p_value),
                    "baseline_count": m.baseline_count,
                    "canary_count": m.canary_count,
                }
                for m in self.metrics
            ],
            "groups": [
                {"name": g.name, "score": g.score, "no_data": g.no_data, "metrics": g.metrics}
                for g in self.groups
            ],
        }


def _finite(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value


def _classify(config: JudgmentConfig, metric: MetricConfig, samples: Samples) -> MetricResult:
    baseline, canary = samples.get(metric.name, ((), ()))
    classifier = metric.classifier(confidence=config.confidence, tolerance=config.tolerance)
    try:
        classification = classifier.classify(
            baseline,
            canary,
            name=metric.name,
            direction=metric.direction,
            nan_strategy=metric.nan_strategy,
            critical=metric.critical,
            must_have_data=metric.must_have_data,
        )
    except (ValueError, ArithmeticError) as exc:
        classification = Classification(
            Label.ERROR, f"Metric Classification Failed: {exc}", math.nan, critical=False
        )
    return MetricResult(
        metric.name, metric.group_names, metric.muted, classification, len(baseline), len(canary)
    )


def judge(config: JudgmentConfig, samples: Samples) -> Judgment:
    """Judges the canary against the baseline on every configured metric."""
    results = tuple(_classify(config, metric, samples) for metric in config.metrics)
    scored = [
        ScoredMetric(
            r.name,
            r.classification.label,
            r.groups,
            r.classification.critical,
            r.classification.reason,
        )
        for r in results
        if not r.muted
    ]
    scores = WeightedSumScorer(config.weights).score(scored)
    verdict = classify_score(
        scores.summary,
        pass_threshold=config.pass_threshold,
        marginal_threshold=config.marginal_threshold,
    )
    reason = scores.reason or _explain(verdict, scores.summary, results)
    return Judgment(scores.summary, verdict, reason, results, scores.groups)


def _explain(verdict: Verdict, score: float, results: Sequence[MetricResult]) -> str:
    flagged = [
        f"{r.name} {r.classification.label.value}"
        for r in results
        if r.classification.label is not Label.PASS and not r.muted
    ]
    detail = f" ({', '.join(flagged)})" if flagged else ""
    return f"score {score:g}: {verdict.value}{detail}"
