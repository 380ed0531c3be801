"""A judgment's configuration: its metrics (Kayenta's canary config) and thresholds.

The defaults are Kayenta's: confidence 98%, tolerance 0.25 of the estimate,
effect sizes 1.0 for the mean ratio and 0.5 for CLES, NaNs removed; and
Spinnaker's usual score thresholds, pass 95 and marginal 75.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portico_rollout.domain.judge.classifier import (
    Direction,
    EffectSize,
    MannWhitneyClassifier,
    NanStrategy,
)
from portico_rollout.errors import InvalidCriteriaError

# The metrics an outcome series yields per interval.
METRICS = ("error_rate", "latency_mean", "latency_p50", "latency_p95", "latency_p99")


@dataclass(frozen=True, slots=True)
class MetricConfig:
    """One judged metric: which, in which groups, which change is bad, and how much is allowed.

    Zero effect sizes mean Kayenta's default for the measure (1.0, or 0.5 for CLES).
    """

    name: str
    groups: tuple[str, ...] = ()
    direction: Direction = Direction.INCREASE
    nan_strategy: NanStrategy = NanStrategy.REMOVE
    critical: bool = False
    must_have_data: bool = False
    muted: bool = False
    measure: EffectSize = EffectSize.MEAN_RATIO
    allowed_increase: float = 0.0
    allowed_decrease: float = 0.0
    critical_increase: float = 0.0
    critical_decrease: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in METRICS:
            raise InvalidCriteriaError("judgment.metrics", f"{self.name!r} is not one of {METRICS}")
        for name in (
            "allowed_increase",
            "allowed_decrease",
            "critical_increase",
            "critical_decrease",
        ):
            value = getattr(self, name)
            if value < 0 or math.isnan(value):
                raise InvalidCriteriaError(f"judgment.{self.name}.{name}", f"{value} is negative")

    @property
    def group_names(self) -> tuple[str, ...]:
        """Its groups; a metric without one is its own group."""
        return self.groups or (self.name,)

    def _default(self, value: float) -> float:
        return value or (0.5 if self.measure is EffectSize.CLES else 1.0)

    def classifier(self, *, confidence: float, tolerance: float) -> MannWhitneyClassifier:
        return MannWhitneyClassifier(
            tolerance=tolerance,
            confidence=confidence,
            effect_sizes=(
                self._default(self.allowed_decrease),
                self._default(self.allowed_increase),
            ),
            critical_effect_sizes=(
                self._default(self.critical_decrease),
                self._default(self.critical_increase),
            ),
            measure=self.measure,
        )


DEFAULT_METRICS = (
    MetricConfig("error_rate", groups=("errors",)),
    MetricConfig("latency_mean", groups=("latency",)),
    MetricConfig("latency_p95", groups=("latency",)),
)


@dataclass(frozen=True, slots=True)
class JudgmentConfig:
    """A statistical judgment of canary against baseline.

    `interval_seconds` is the width of one sample (0: the window split in
    about 30). Scores at or above `pass_threshold` pass; below
    `marginal_threshold` the rollout fails; in between the phase holds.
    """

    metrics: tuple[MetricConfig, ...] = DEFAULT_METRICS
    # (group, weight in percent) pairs: a tuple, so the configuration stays hashable.
    group_weights: tuple[tuple[str, float], ...] = ()
    confidence: float = 0.98
    tolerance: float = 0.25
    pass_threshold: float = 95.0
    marginal_threshold: float = 75.0
    interval_seconds: int = 0

    def __post_init__(self) -> None:
        if not self.metrics:
            raise InvalidCriteriaError("judgment.metrics", "a judgment needs at least one metric")
        names = [m.name for m in self.metrics]
        if len(set(names)) != len(names):
            raise InvalidCriteriaError("judgment.metrics", f"a metric is named twice in {names}")
        if not 0.5 <= self.confidence < 1:
            raise InvalidCriteriaError(
                "judgment.confidence", f"{self.confidence} is not in [0.5, 1)"
            )
        if not 0 <= self.tolerance <= 10:
            raise InvalidCriteriaError("judgment.tolerance", f"{self.tolerance} is not in [0, 10]")
        if not 0 <= self.marginal_threshold <= self.pass_threshold <= 100:
            raise InvalidCriteriaError(
                "judgment.thresholds",
                f"need 0 <= marginal ({self.marginal_threshold}) <= pass ({self.pass_threshold})"
                " <= 100",
            )
        weights = self.weights
        if len(weights) != len(self.group_weights):
            raise InvalidCriteriaError("judgment.group_weights", "a group is weighted twice")
        if any(w < 0 for w in weights.values()) or sum(weights.values()) > 100:
            raise InvalidCriteriaError(
                "judgment.group_weights", f"{dict(weights)} must be non-negative and sum to <= 100"
            )
        groups = {g for m in self.metrics for g in m.group_names}
        if unknown := set(weights) - groups:
            raise InvalidCriteriaError(
                "judgment.group_weights", f"no metric is in {sorted(unknown)}"
            )
        if self.interval_seconds < 0:
            raise InvalidCriteriaError("judgment.interval_seconds", "must not be negative")

    @property
    def weights(self) -> dict[str, float]:
        return dict(self.group_weights)

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": [
                {
                    "name": m.name,
                    "groups": list(m.groups),
                    "direction": m.direction.value,
                    "nan_strategy": m.nan_strategy.value,
                    "critical": m.critical,
                    "must_have_data": m.must_have_data,
                    "muted": m.muted,
                    "measure": m.measure.value,
                    "allowed_increase": m.allowed_increase,
                    "allowed_decrease": m.allowed_decrease,
                    "critical_increase": m.critical_increase,
                    "critical_decrease": m.critical_decrease,
                }
                for m in self.metrics
            ],
            "group_weights": self.weights,
            "confidence": self.confidence,
            "tolerance": self.tolerance,
            "pass_threshold": self.pass_threshold,
            "marginal_threshold": self.marginal_threshold,
            "interval_seconds": self.interval_seconds,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JudgmentConfig:
        try:
            metrics = tuple(
                MetricConfig(
                    name=m["name"],
                    groups=tuple(m.get("groups", ())),
                    direction=Direction(m.get("direction", "increase")),
                    nan_strategy=NanStrategy(m.get("nan_strategy", "remove")),
                    critical=bool(m.get("critical", False)),
                    must_have_data=bool(m.get("must_have_data", False)),
                    muted=bool(m.get("muted", False)),
                    measure=EffectSize(m.get("measure", "meanRatio")),
                    allowed_increase=float(m.get("allowed_increase", 0.0)),
                    allowed_decrease=float(m.get("allowed_decrease", 0.0)),
                    critical_increase=float(m.get("critical_increase", 0.0)),
                    critical_decrease=float(m.get("critical_decrease", 0.0)),
                )
                for m in data["metrics"]
            )
            return cls(
                metrics=metrics,
                group_weights=tuple(
                    (str(k), float(v)) for k, v in data.get("group_weights", {}).items()
                ),
                confidence=float(data.get("confidence", 0.98)),
                tolerance=float(data.get("tolerance", 0.25)),
                pass_threshold=float(data.get("pass_threshold", 95.0)),
                marginal_threshold=float(data.get("marginal_threshold", 75.0)),
                interval_seconds=int(data.get("interval_seconds", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidCriteriaError("judgment", f"malformed {dict(data)!r}: {exc}") from exc
