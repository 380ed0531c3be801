"""Burn rates and the multiwindow rule from Google's SRE workbook (chapter 5).

The burn rate is how fast the error budget is being spent: 1 spends exactly
the budget over the SLO window, 14.4 spends 2% of a 30-day budget in an hour.
Requiring both a short and a long window to burn makes the alert fast to
fire (the short window) and fast to stop firing, without paging on a blip
(the long window).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from portico_slo.domain._numbers import at_least
from portico_slo.domain.objective import SloDefinition
from portico_slo.errors import InvalidObjectiveError, InvalidOutcomeError


@dataclass(frozen=True, slots=True)
class Counts:
    """Good and bad events in some span of time."""

    good: int = 0
    bad: int = 0

    def __post_init__(self) -> None:
        if self.good < 0 or self.bad < 0:
            raise InvalidOutcomeError(
                f"counts cannot be negative (good={self.good}, bad={self.bad})"
            )

    @property
    def total(self) -> int:
        """All events, good and bad."""
        return self.good + self.bad

    def __add__(self, other: Counts) -> Counts:
        return Counts(good=self.good + other.good, bad=self.bad + other.bad)

    @classmethod
    def of(cls, good: bool) -> Counts:
        """The counts of a single outcome."""
        return cls(good=1, bad=0) if good else cls(good=0, bad=1)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Both windows' burn rates and whether the rule tripped."""

    short_burn: float
    long_burn: float
    tripped: bool


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


def burn_rate(good: int, bad: int, objective: float) -> float:
    """The error rate divided by the error budget; 0 when there were no events."""
    if not (math.isfinite(objective) and 0 < objective < 1):
        raise InvalidObjectiveError("objective", f"{objective} is not between 0 and 1")
    counts = Counts(good=good, bad=bad)
    if counts.total == 0:
        return 0.0
    return (counts.bad / counts.total) / (1 - objective)


def evaluate(definition: SloDefinition, short: Counts, long: Counts) -> Evaluation:
    """Apply the multiwindow rule: both burn rates at or above the threshold.

    The short window must also hold `min_events`, so the first failed request
    after a deploy (a 100% error rate over one event) does not roll it back.
    """
    short_burn = burn_rate(short.good, short.bad, definition.objective)
    long_burn = burn_rate(long.good, long.bad, definition.objective)
    threshold = definition.burn_rate_threshold
    tripped = (
        short.total >= definition.min_events
        and at_least(short_burn, threshold)
        and at_least(long_burn, threshold)
    )
    return Evaluation(short_burn=short_burn, long_burn=long_burn, tripped=tripped)
