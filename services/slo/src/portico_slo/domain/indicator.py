"""What an SLO measures (its SLI) and where the measurements come from.

Outcomes are pushed (ReportOutcomes) or pulled from Prometheus; either way
they become good and bad counts in the same buckets, so one evaluator judges
both.
"""

from __future__ import annotations

import operator
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from portico_slo.errors import InvalidOutcomeError, InvalidSloDefinitionError


class SliKind(StrEnum):
    """How an outcome is judged good."""

    # Good when it succeeded (good/total events).
    RATIO = "ratio"
    # Good when it answered within the latency threshold, success or not.
    LATENCY = "latency"
    # Good when it succeeded within the latency threshold.
    RATIO_AND_LATENCY = "ratio_and_latency"


class BudgetingMethod(StrEnum):
    """How the error budget is counted (OpenSLO's budgetingMethod)."""

    # Bad events out of all events.
    OCCURRENCES = "Occurrences"
    # Bad time slices out of all the period's slices; a slice is bad when its
    # good-event ratio is under the time-slice target.
    TIMESLICES = "Timeslices"
    # The average of the slices' good-event ratios.
    RATIO_TIMESLICES = "RatioTimeslices"


@dataclass(frozen=True, slots=True)
class PrometheusSource:
    """PromQL the pull adapter evaluates; counters are read as increases per step.

    A ratio SLI gives `good` (or `bad`) and `total` selectors; a threshold SLI
    gives `value` (say, a histogram_quantile) and each step is one sample,
    good when `value op threshold` holds.
    """

    good: str = ""
    bad: str = ""
    total: str = ""
    value: str = ""
    op: str = "lte"
    threshold: float = 0.0

    def __post_init__(self) -> None:
        field = "indicator.prometheus"
        if self.value:
            if self.good or self.bad or self.total:
                raise InvalidSloDefinitionError(field, "a value query excludes good/bad/total")
            if self.op not in OPS:
                raise InvalidSloDefinitionError(f"{field}.op", f"{self.op!r} is not one of {OPS}")
            return
        if not self.total or bool(self.good) == bool(self.bad):
            raise InvalidSloDefinitionError(
                field, "needs total and exactly one of good or bad (or a value query)"
            )

    @property
    def is_threshold(self) -> bool:
        return bool(self.value)

    def judge(self, value: float) -> bool:
        """Whether a sampled value is good."""
        return OPS[self.op](value, self.threshold)


OPS: dict[str, Callable[[float, float], bool]] = {
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


@dataclass(frozen=True, slots=True)
class Indicator:
    """The SLI: how outcomes are judged, and where pulled ones come from."""

    kind: SliKind = SliKind.RATIO
    latency_threshold_ms: int = 0
    prometheus: PrometheusSource | None = None

    def __post_init__(self) -> None:
        if self.latency_threshold_ms < 0:
            raise InvalidSloDefinitionError(
                "latency_threshold_ms", f"{self.latency_threshold_ms} is negative"
            )
        if self.kind is not SliKind.RATIO and self.latency_threshold_ms == 0:
            raise InvalidSloDefinitionError(
                "latency_threshold_ms", f"a {self.kind} SLI needs a threshold above 0"
            )

    @property
    def pulled(self) -> bool:
        return self.prometheus is not None

    @classmethod
    def of_threshold(cls, latency_threshold_ms: int) -> Indicator:
        """CreateSlo's classic reading: a threshold judges latency on top of success."""
        if latency_threshold_ms:
            return cls(SliKind.RATIO_AND_LATENCY, latency_threshold_ms)
        return cls(SliKind.RATIO)

    def classify(self, success: bool, latency_ms: int) -> bool:
        """Whether one outcome is good for this SLI."""
        if self.kind is SliKind.RATIO:
            return classify(success, latency_ms, 0)
        if self.kind is SliKind.LATENCY:
            return classify(True, latency_ms, self.latency_threshold_ms)
        return classify(success, latency_ms, self.latency_threshold_ms)

    def good_among(self, successes: Sequence[int], errors: Sequence[int]) -> int:
        """How many outcomes are good, given the latencies of the successes and of the
        errors, each sorted ascending: `classify` counted with a bisect at the threshold."""
        threshold = self.latency_threshold_ms
        if self.kind is SliKind.RATIO or threshold == 0:
            return len(successes)
        within = bisect_right(successes, threshold)
        if self.kind is SliKind.LATENCY:
            return within + bisect_right(errors, threshold)
        return within


def classify(success: bool, latency_ms: int, latency_threshold_ms: int) -> bool:
    """True if the outcome is good: it succeeded and, when latency is judged, was fast enough.

    A latency exactly at the threshold is good: the threshold is the slowest
    acceptable answer, as in "99% of requests within 300 ms".
    """
    if latency_ms < 0:
        raise InvalidOutcomeError(f"latency {latency_ms} ms is negative")
    if latency_threshold_ms < 0:
        raise InvalidOutcomeError(f"latency threshold {latency_threshold_ms} ms is negative")
    if not success:
        return False
    return latency_threshold_ms == 0 or latency_ms <= latency_threshold_ms
