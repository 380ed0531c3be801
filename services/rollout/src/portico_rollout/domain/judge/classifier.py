"""One metric's verdict, canary against baseline: Kayenta's MannWhitneyClassifier.

The canary is High when the whole confidence interval of the shift lies
above `tolerance` times the Hodges-Lehmann estimate and the effect size
reaches the allowed increase (Low: the mirror image), in the directions the
metric cares about. A critical metric whose effect also reaches its critical
threshold fails the whole judgment. Missing data is Nodata (or
NodataFailMetric when the metric must have data), unless NaNs are replaced,
when it passes, exactly as Kayenta does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy import stats

from portico_rollout.domain.judge.mannwhitney import mann_whitney

# Kayenta scales the noise it adds to fully tied samples by their value.
_NOISE_SCALE = 1e-5
# Fixed, so a judgment replayed from the same evidence draws the same noise.
_NOISE_SEED = 20_170_418


class Label(StrEnum):
    """A metric's classification; the values are Kayenta's labels."""

    PASS = "Pass"  # noqa: S105 - a label, not a password
    HIGH = "High"
    LOW = "Low"
    NODATA = "Nodata"
    NODATA_FAIL = "NodataFailMetric"
    ERROR = "Error"


class Direction(StrEnum):
    """Which change of the metric is bad."""

    INCREASE = "increase"
    DECREASE = "decrease"
    EITHER = "either"


class NanStrategy(StrEnum):
    """What a missing value (an interval without data) becomes."""

    REMOVE = "remove"
    REPLACE = "replace"


class EffectSize(StrEnum):
    """How the size of a difference is measured."""

    MEAN_RATIO = "meanRatio"
    CLES = "cles"


@dataclass(frozen=True, slots=True)
class Classification:
    """A metric's label with why, its deviation (mean ratio) and the test behind it."""

    label: Label
    reason: str
    deviation: float
    critical: bool
    effect_size: float = math.nan
    lower: float = math.nan
    upper: float = math.nan
    estimate: float = math.nan
    p_value: float = math.nan


def mean_ratio(control: Sequence[float], experiment: Sequence[float]) -> float:
    """Experiment mean over control mean; NaN when either mean is zero."""
    control_mean = float(np.mean(control))
    experiment_mean = float(np.mean(experiment))
    if control_mean == 0.0 or experiment_mean == 0.0:
        return math.nan
    return experiment_mean / control_mean


def cles(control: Sequence[float], experiment: Sequence[float]) -> float:
    """Common-language effect size: the share of pairs where the experiment is higher.

    Vargha and Delaney's rank form, as Kayenta computes it.
    """
    m, n = len(experiment), len(control)
    ranks = stats.rankdata(np.concatenate([experiment, control]))
    r1 = float(ranks[:m].sum())
    return (2 * r1 - m * (m + 1)) / (2 * n * m)


@dataclass(frozen=True, slots=True)
class MannWhitneyClassifier:
    """Kayenta's classifier with its parameters; `classify` labels one metric.

    `effect_sizes` and `critical_effect_sizes` are (allowed decrease, allowed
    increase) pairs, on the scale of `measure` (1.0 means "any change" for the
    mean ratio, 0.5 for CLES).
    """

    tolerance: float = 0.25
    confidence: float = 0.95
    effect_sizes: tuple[float, float] = (1.0, 1.0)
    critical_effect_sizes: tuple[float, float] = (1.0, 1.0)
    measure: EffectSize = EffectSize.MEAN_RATIO

    def classify(
        self,
        control: Sequence[float],
        experiment: Sequence[float],
        *,
        name: str = "metric",
        direction: Direction = Direction.EITHER,
        nan_strategy: NanStrategy = NanStrategy.REMOVE,
        critical: bool = False,
        must_have_data: bool = False,
    ) -> Classification:
        """The label of `experiment` (the canary) against `control` (the baseline).

        NaNs are removed or replaced by 0.0 first, per `nan_strategy`.
        """
        control = _without_nans(control, nan_strategy)
        experiment = _without_nans(experiment, nan_strategy)
        if not experiment or not control:
            if nan_strategy is NanStrategy.REPLACE:
                return Classification(Label.PASS, "", 1.0, critical=False)
            reason = f"Missing data for {name}"
            if must_have_data and not critical:
                return Classification(Label.NODATA_FAIL, reason, 1.0, critical=False)
            return Classification(Label.NODATA, reason, 1.0, critical=critical)
        if sorted(experiment) == sorted(control):
            reason = f"The canary and baseline data of {name} are identical"
            return Classification(Label.PASS, reason, 1.0, critical=False)
        if len(set(experiment) | set(control)) == 1:
            return Classification(Label.PASS, "", 1.0, critical=False)
        return self._compare(control, experiment, name, direction, critical)

    def _compare(
        self,
        control: list[float],
        experiment: list[float],
        name: str,
        direction: Direction,
        critical: bool,
    ) -> Classification:
        if len(set(experiment)) == 1 and len(set(control)) == 1:
            # All ranks tied on each side: Kayenta adds tiny noise so a shift is measurable.
            experiment, control = _noisy(experiment, 0), _noisy(control, 1)
        test = mann_whitney(experiment, control, self.confidence)
        deviation = mean_ratio(control, experiment)
        effect = (
            cles(control, experiment)
            if self.measure is EffectSize.CLES
            else mean_ratio(control, experiment)
        )
        bound = self.tolerance * abs(test.estimate)
        allowed_decrease, allowed_increase = self.effect_sizes
        is_high = (
            direction in (Direction.INCREASE, Direction.EITHER)
            and test.lower > bound
            and (math.isnan(effect) or effect >= allowed_increase)
        )
        is_low = (
            direction in (Direction.DECREASE, Direction.EITHER)
            and test.upper < -bound
            and (math.isnan(effect) or effect <= allowed_decrease)
        )
        label = Label.HIGH if is_high else Label.LOW if is_low else Label.PASS
        critical_decrease, critical_increase = self.critical_effect_sizes
        critically = critical and (
            (label is Label.HIGH and (math.isnan(effect) or effect >= critical_increase))
            or (label is Label.LOW and (math.isnan(effect) or effect <= critical_decrease))
        )
        if critically:
            reason = f"The metric {name} was classified as {label.value} (Critical)"
        elif label is not Label.PASS:
            reason = f"{name} was classified as {label.value}"
        else:
            reason = ""
        return Classification(
            label,
            reason,
            deviation,
            critical=critically,
            effect_size=effect,
            lower=test.lower,
            upper=test.upper,
            estimate=test.estimate,
            p_value=test.p_value,
        )


def _without_nans(values: Sequence[float], strategy: NanStrategy) -> list[float]:
    if strategy is NanStrategy.REPLACE:
        return [0.0 if math.isnan(v) else float(v) for v in values]
    return [float(v) for v in values if not math.isnan(v)]


def _noisy(values: list[float], stream: int) -> list[float]:
    scale = values[0] * _NOISE_SCALE
    noise = np.random.default_rng((_NOISE_SEED, stream)).normal(0.0, abs(scale), len(values))
    return [v + float(n) for v, n in zip(values, noise, strict=True)]
