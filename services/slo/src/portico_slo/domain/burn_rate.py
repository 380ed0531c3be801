"""Burn rates, and the tiers of the multiwindow rule from Google's SRE workbook (chapter 5).

The burn rate is how fast the error budget is being spent: 1 spends exactly
the budget over the SLO window, 14.4 spends 2% of a 30-day budget in an hour.
Requiring both a short and a long window to burn makes an alert fast to fire
(the long window decides when) and fast to stop (the short window clears
first), without paging on a blip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from portico_slo.domain._numbers import at_least
from portico_slo.domain.indicator import BudgetingMethod, classify
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.tiers import BurnRateTier
from portico_slo.errors import InvalidObjectiveError, InvalidOutcomeError

__all__ = [
    "Counts",
    "Evaluation",
    "TierEvaluation",
    "WindowSummary",
    "burn_rate",
    "classify",
    "evaluate",
]


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
class WindowSummary:
    """What a window holds: its events, and its slices (one bucket each) judged.

    A slice with no events is neither good nor bad: no traffic is no evidence.
    """

    events: Counts = Counts()
    good_slices: int = 0
    bad_slices: int = 0
    # The sum of the slices' good-event ratios (RatioTimeslices averages it).
    ratio_sum: float = 0.0

    @property
    def slices(self) -> int:
        return self.good_slices + self.bad_slices

    def __add__(self, other: WindowSummary) -> WindowSummary:
        return WindowSummary(
            self.events + other.events,
            self.good_slices + other.good_slices,
            self.bad_slices + other.bad_slices,
            self.ratio_sum + other.ratio_sum,
        )

    @classmethod
    def of_bucket(cls, counts: Counts, timeslice_target: float) -> WindowSummary:
        """One bucket as a window: its events, and its verdict as a slice."""
        if counts.total == 0:
            return cls()
        ratio = counts.good / counts.total
        good = at_least(ratio, timeslice_target)
        return cls(counts, int(good), int(not good), ratio)

    def bad_share(self, method: BudgetingMethod) -> float:
        """The share of the window that was bad, as the budgeting method counts it."""
        if method is BudgetingMethod.OCCURRENCES:
            return self.events.bad / self.events.total if self.events.total else 0.0
        if not self.slices:
            return 0.0
        if method is BudgetingMethod.TIMESLICES:
            return self.bad_slices / self.slices
        return max(0.0, 1 - self.ratio_sum / self.slices)


@dataclass(frozen=True, slots=True)
class TierEvaluation:
    """One tier judged: both windows' burn rates, whether they burn, whether it fires."""

    tier: BurnRateTier
    short: WindowSummary
    long: WindowSummary
    short_burn: float
    long_burn: float
    # Both windows at or above the factor; a firing tier stops when this is False.
    burning: bool
    # Burning with at least min_events in the short window; a tier starts on this.
    tripped: bool


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every enabled tier judged, fastest first."""

    tiers: tuple[TierEvaluation, ...]

    @property
    def fastest(self) -> TierEvaluation | None:
        return self.tiers[0] if self.tiers else None

    @property
    def short_burn(self) -> float:
        """The fastest tier's short-window burn rate (what the classic API reports)."""
        return self.tiers[0].short_burn if self.tiers else 0.0

    @property
    def long_burn(self) -> float:
        return self.tiers[0].long_burn if self.tiers else 0.0

    @property
    def tripped(self) -> bool:
        return any(t.tripped for t in self.tiers)

    def of(self, name: str) -> TierEvaluation | None:
        return next((t for t in self.tiers if t.tier.name == name), None)


def burn_rate(good: int, bad: int, objective: float) -> float:
    """The error rate divided by the error budget; 0 when there were no events."""
    _check_objective(objective)
    counts = Counts(good=good, bad=bad)
    if counts.total == 0:
        return 0.0
    return (counts.bad / counts.total) / (1 - objective)


def summary_burn(summary: WindowSummary, definition: SloDefinition) -> float:
    """A window's burn rate under the SLO's budgeting method."""
    _check_objective(definition.objective)
    return summary.bad_share(definition.budgeting) / definition.error_budget


def evaluate(definition: SloDefinition, windows: Mapping[int, WindowSummary]) -> Evaluation:
    """Judge every enabled tier on the window summaries (keyed by window seconds).

    A tier trips when both of its windows burn at or above its factor and the
    short window holds enough events (`AlertPolicy.min_events_for`), so the
    first failed request after a deploy (100% errors over one event) pages
    nobody.
    """
    results = []
    for tier in definition.alerting.enabled:
        short = windows.get(tier.short_window_seconds, WindowSummary())
        long = windows.get(tier.long_window_seconds, WindowSummary())
        short_burn = summary_burn(short, definition)
        long_burn = summary_burn(long, definition)
        burning = at_least(short_burn, tier.factor) and at_least(long_burn, tier.factor)
        results.append(
            TierEvaluation(
                tier=tier,
                short=short,
                long=long,
                short_burn=short_burn,
                long_burn=long_burn,
                burning=burning,
                tripped=burning and short.events.total >= definition.alerting.min_events_for(tier),
            )
        )
    return Evaluation(tuple(results))


def _check_objective(objective: float) -> None:
    if not (math.isfinite(objective) and 0 < objective < 1):
        raise InvalidObjectiveError("objective", f"{objective} is not between 0 and 1")
