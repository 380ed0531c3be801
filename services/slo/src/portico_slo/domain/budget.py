"""Error budget accounting: what a period allows, what it has spent, and how fast.

Occurrences: the budget is (1 - objective) of the events seen so far in the
period; spending is bad events. Timeslices: the budget is (1 - objective) of
every slice the period holds, from its start to its end (a calendar month of
1-minute slices allows 432 bad minutes at 99%, however busy they were); a
slice without events counts as good. RatioTimeslices: the budget is
(1 - objective) of the slices with events, spent by their average shortfall.
`consumed` is the share spent (above 1 when overspent) and `remaining` is
1 - consumed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from portico_slo.domain.burn_rate import WindowSummary, summary_burn
from portico_slo.domain.indicator import BudgetingMethod
from portico_slo.domain.objective import SloDefinition

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Budget:
    """An SLO's error budget at one moment of one period."""

    period_start: datetime
    period_end: datetime
    as_of: datetime
    summary: WindowSummary
    # Bad events (or slices) the period allows, and those it has had.
    allowed: float
    spent: float
    # The average burn rate over the period so far.
    burn_rate: float

    @property
    def consumed(self) -> float:
        """The share of the budget spent (1.0 = all of it)."""
        if self.allowed > 0:
            return self.spent / self.allowed
        return 0.0 if self.spent == 0 else float("inf")

    @property
    def remaining(self) -> float:
        return 1 - self.consumed


def budget_of(
    definition: SloDefinition,
    summary: WindowSummary,
    period: tuple[datetime, datetime],
    as_of: datetime,
) -> Budget:
    """The budget of `period` given what it held up to `as_of`."""
    start, end = period
    budget = definition.error_budget
    method = definition.budgeting
    if method is BudgetingMethod.OCCURRENCES:
        allowed = budget * summary.events.total
        spent = float(summary.events.bad)
    elif method is BudgetingMethod.TIMESLICES:
        slices = (end - start) // timedelta(seconds=definition.timeslice_seconds)
        allowed = budget * slices
        spent = float(summary.bad_slices)
    else:
        allowed = budget * summary.slices
        spent = summary.slices - summary.ratio_sum
    return Budget(
        period_start=start,
        period_end=end,
        as_of=as_of,
        summary=summary,
        allowed=allowed,
        spent=max(0.0, spent),
        burn_rate=summary_burn(summary, definition),
    )


def group_seconds_for(bucket_seconds: int) -> int:
    """History is summed in groups of about 15 minutes, whole buckets each."""
    return bucket_seconds * max(1, 900 // bucket_seconds)


def history(
    definition: SloDefinition,
    groups: Mapping[int, WindowSummary],
    points: Sequence[datetime],
    group_seconds: int,
) -> list[Budget]:
    """The budget at each point, from summaries per group (keyed by the group's first second).

    A group counts toward a point's period when it starts inside it and before
    the point, so the series is exact at group boundaries.
    """
    series = []
    keys = sorted(groups)
    for point in points:
        start, end = definition.window.period(point)
        low = _key(start, group_seconds)
        high = _key(point, group_seconds)
        summary = WindowSummary()
        for key in keys:
            if low <= key < high:
                summary += groups[key]
        series.append(budget_of(definition, summary, (start, end), point))
    return series


def _key(at: datetime, group_seconds: int) -> int:
    return (at - _EPOCH) // timedelta(seconds=group_seconds) * group_seconds
