"""From metric labels to a 0-100 score and Pass / Marginal / Fail: Kayenta's scoring.

`WeightedSumScorer`: a group's score is the share of its judged metrics
(Pass, High, Low, NodataFailMetric) that passed, times 100; a group with no
judged metric has no data and counts as 100 in the summary. Groups without
a weight share what the weighted ones leave of 100. Any critical metric that
did not pass, or Nodata for half the metrics or more, makes the summary 0.
`ThresholdScoreClassifier`: at or above `pass` passes, at or above
`marginal` is marginal, below fails.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from portico_rollout.domain.judge.classifier import Label

NODATA_THRESHOLD = 50


@dataclass(frozen=True, slots=True)
class ScoredMetric:
    """What the scorer needs of one metric's result."""

    name: str
    label: Label
    groups: tuple[str, ...]
    critical: bool = False
    reason: str = ""


@dataclass(frozen=True, slots=True)
class GroupScore:
    """One group's score and the labels behind it."""

    name: str
    score: float
    no_data: bool
    labels: Mapping[str, int]
    metrics: int


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """The summary score, per-group scores, and why the summary was forced to 0 (if it was)."""

    summary: float
    groups: tuple[GroupScore, ...]
    metrics: int
    reason: str = ""


class Verdict(StrEnum):
    """The judgment's classification of the summary score."""

    PASS = "Pass"  # noqa: S105 - a label, not a password
    MARGINAL = "Marginal"
    FAIL = "Fail"


def _group_score(name: str, labels: Sequence[Label]) -> GroupScore:
    counts = Counter(label.value for label in labels)
    judged = sum(counts[x] for x in ("Pass", "High", "Low", "NodataFailMetric"))
    no_data = judged == 0
    score = 0.0 if no_data else counts["Pass"] / judged * 100
    return GroupScore(name, score, no_data, dict(counts), len(labels))


def _round2(value: float) -> float:
    # Commons Math's Precision.round rounds half up, not to even.
    return float(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class WeightedSumScorer:
    """Kayenta's scorer; `group_weights` are percentages, unnamed groups share the rest."""

    group_weights: Mapping[str, float]

    def score(self, results: Sequence[ScoredMetric]) -> ScoreResult:
        by_group: dict[str, list[Label]] = {}
        for result in results:
            for group in result.groups:
                by_group.setdefault(group, []).append(result.label)
        groups = tuple(_group_score(name, labels) for name, labels in by_group.items())
        failures = [r for r in results if r.critical and r.label is not Label.PASS]
        if failures:
            return ScoreResult(0.0, groups, len(results), f"Canary Failed: {failures[0].reason}")
        if self._too_many_nodata(results):
            reason = f"Canary Failed: {NODATA_THRESHOLD}% or more metrics returned NODATA"
            return ScoreResult(0.0, groups, len(results), reason)
        return ScoreResult(self._summary(groups), groups, len(results))

    def _summary(self, groups: Sequence[GroupScore]) -> float:
        weighted = sum(self.group_weights.values())
        unweighted = {g.name for g in groups} - set(self.group_weights)
        share = (100 - weighted) / len(unweighted) if unweighted else 0.0
        total = 0.0
        for group in groups:
            effective = 100.0 if group.no_data else group.score
            total += effective * (self.group_weights.get(group.name, share) / 100)
        return _round2(total)

    @staticmethod
    def _too_many_nodata(results: Sequence[ScoredMetric]) -> bool:
        if not results:
            return False
        nodata = sum(r.label is Label.NODATA for r in results)
        return nodata / len(results) * 100 >= NODATA_THRESHOLD


def classify_score(score: float, *, pass_threshold: float, marginal_threshold: float) -> Verdict:
    """Kayenta's ThresholdScoreClassifier."""
    if score >= pass_threshold:
        return Verdict.PASS
    if score >= marginal_threshold:
        return Verdict.MARGINAL
    return Verdict.FAIL
