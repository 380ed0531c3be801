"""Burn-rate alert tiers: the SRE workbook's multiwindow, multi-burn-rate alerts.

Chapter 5 of the workbook ("Alerting on SLOs") alerts when a share of the
error budget is spent within a window, confirmed by a window 1/12 as long:

    tier        budget spent   long window   short window   30-day factor  severity
    page-1h          2%            1h            5m             14.4       page
    page-6h          5%            6h            30m             6         page
    ticket-1d       10%            1d            2h              3         ticket
    ticket-3d       10%            3d            6h              1         ticket

The factor is the burn rate that spends that share in the long window:
share * period / long_window (0.02 * 720 h / 1 h = 14.4). Other periods keep
the shares and windows and scale the factor, so a 28-day SLO pages at 13.44
and a 90-day one at 43.2. A tier whose long window is longer than the period
cannot be measured and is left out.

A faster tier inhibits the slower ones while it fires (one page, not four),
each tier can be disabled, and no tier fires on too little traffic: the
fastest needs `min_events` events in its short window, slower ones as many
per the same length of time (one failed request after a deploy is not 100%
errors worth a page).

Canary SLOs use one short tier instead: a canary's whole life is minutes, so
it is judged over seconds with a minimum number of samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from portico_slo.domain.durations import format_duration
from portico_slo.errors import InvalidObjectiveError, InvalidSloDefinitionError, InvalidWindowError


class Severity(StrEnum):
    """Who hears about a tier: a page wakes someone, a ticket waits for working hours."""

    PAGE = "page"
    TICKET = "ticket"


@dataclass(frozen=True, slots=True)
class BurnRateTier:
    """Fires when both windows burn at `factor` or more (and the short one has traffic)."""

    name: str
    severity: Severity
    long_window_seconds: int
    short_window_seconds: int
    factor: float
    enabled: bool = True

    def __post_init__(self) -> None:
        field = f"alerting.tiers[{self.name}]"
        if not self.name or not self.name.replace("-", "").replace("_", "").isalnum():
            raise InvalidSloDefinitionError(f"{field}.name", "must be letters, digits, - or _")
        if self.short_window_seconds <= 0:
            raise InvalidWindowError(f"{field}.short_window", "must be positive")
        if self.short_window_seconds >= self.long_window_seconds:
            raise InvalidWindowError(
                f"{field}.short_window",
                f"{format_duration(self.short_window_seconds)} is not shorter than the long "
                f"window {format_duration(self.long_window_seconds)}",
            )
        if not (math.isfinite(self.factor) and self.factor > 0):
            raise InvalidObjectiveError(f"{field}.factor", f"{self.factor} is not positive")

    @property
    def rule(self) -> str:
        """The rule in words, e.g. "burn rate >= 14.4 over 5m and 1h"."""
        return (
            f"burn rate >= {self.factor:g} over {format_duration(self.short_window_seconds)} "
            f"and {format_duration(self.long_window_seconds)}"
        )


# (name, severity, long window, short window, share of the budget it spends)
WORKBOOK_TIERS: tuple[tuple[str, Severity, int, int, float], ...] = (
    ("page-1h", Severity.PAGE, 3_600, 300, 0.02),
    ("page-6h", Severity.PAGE, 21_600, 1_800, 0.05),
    ("ticket-1d", Severity.TICKET, 86_400, 7_200, 0.10),
    ("ticket-3d", Severity.TICKET, 259_200, 21_600, 0.10),
)
DEFAULT_MIN_EVENTS = 10
CANARY_TIER = "canary"
DEFAULT_CANARY_LONG_SECONDS = 60
DEFAULT_CANARY_SHORT_SECONDS = 5
DEFAULT_CANARY_FACTOR = 14.4
DEFAULT_CANARY_MIN_EVENTS = 20


def workbook_factor(budget_share: float, period_seconds: int, long_window_seconds: int) -> float:
    """The burn rate that spends `budget_share` of a period's budget in the long window."""
    # Rounded so 0.02 * 720 comes out as 14.4, not 14.399999999999999.
    return round(budget_share * period_seconds / long_window_seconds, 9)


def workbook_tiers(
    period_seconds: int, disabled: frozenset[str] = frozenset()
) -> tuple[BurnRateTier, ...]:
    """The workbook's tiers with factors scaled to the period, fastest first."""
    return tuple(
        BurnRateTier(
            name=name,
            severity=severity,
            long_window_seconds=long,
            short_window_seconds=short,
            factor=workbook_factor(share, period_seconds, long),
            enabled=name not in disabled,
        )
        for name, severity, long, short, share in WORKBOOK_TIERS
        if long <= period_seconds
    )


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """The tiers an SLO is judged by, fastest first, and the minimum-traffic guard."""

    tiers: tuple[BurnRateTier, ...]
    min_events: int = DEFAULT_MIN_EVENTS

    def __post_init__(self) -> None:
        if self.min_events < 1:
            raise InvalidSloDefinitionError("min_events", f"{self.min_events} is below 1")
        names = [t.name for t in self.tiers]
        if len(set(names)) != len(names):
            raise InvalidSloDefinitionError("alerting.tiers", f"tier names repeat: {names}")
        # Fastest first is what inhibition relies on: order by the long window.
        object.__setattr__(
            self, "tiers", tuple(sorted(self.tiers, key=lambda t: (t.long_window_seconds, t.name)))
        )

    @property
    def enabled(self) -> tuple[BurnRateTier, ...]:
        return tuple(t for t in self.tiers if t.enabled)

    @property
    def windows(self) -> tuple[int, ...]:
        """Every distinct window an evaluation sums, ascending."""
        return tuple(
            sorted(
                {t.short_window_seconds for t in self.enabled}
                | {t.long_window_seconds for t in self.enabled}
            )
        )

    def min_events_for(self, tier: BurnRateTier) -> int:
        """The traffic `tier` needs in its short window before it may start firing.

        `min_events` is a rate: events per short window of the fastest enabled
        tier. A slower tier's short window is longer, so it needs as many more
        events; otherwise the first few requests of a new version (all its
        windows hold the same handful) would start the 6h and 3d tiers on one
        failure, before the hour-long page could.
        """
        enabled = self.enabled or self.tiers
        shortest = min((t.short_window_seconds for t in enabled), default=tier.short_window_seconds)
        return -(-self.min_events * tier.short_window_seconds // shortest)

    def tier(self, name: str) -> BurnRateTier | None:
        return next((t for t in self.tiers if t.name == name), None)

    def with_disabled(self, names: frozenset[str]) -> AlertPolicy:
        unknown = names - {t.name for t in self.tiers}
        if unknown:
            raise InvalidSloDefinitionError(
                "alerting.disabled_tiers", f"no tiers named {sorted(unknown)}"
            )
        return replace(
            self, tiers=tuple(replace(t, enabled=t.name not in names) for t in self.tiers)
        )

    @classmethod
    def workbook(
        cls,
        period_seconds: int,
        *,
        min_events: int = DEFAULT_MIN_EVENTS,
        disabled: frozenset[str] = frozenset(),
    ) -> AlertPolicy:
        tiers = workbook_tiers(period_seconds)
        return (
            cls(tiers, min_events).with_disabled(disabled) if disabled else cls(tiers, min_events)
        )

    @classmethod
    def single(
        cls,
        *,
        factor: float,
        short_window_seconds: int,
        long_window_seconds: int,
        min_events: int = DEFAULT_MIN_EVENTS,
        name: str = "custom",
        severity: Severity = Severity.PAGE,
    ) -> AlertPolicy:
        """One tier of the caller's choosing (CreateSlo's burn_rate_threshold and windows)."""
        return cls(
            (BurnRateTier(name, severity, long_window_seconds, short_window_seconds, factor),),
            min_events,
        )

    @classmethod
    def canary(
        cls,
        *,
        long_window_seconds: int = DEFAULT_CANARY_LONG_SECONDS,
        short_window_seconds: int = DEFAULT_CANARY_SHORT_SECONDS,
        factor: float = DEFAULT_CANARY_FACTOR,
        min_events: int = DEFAULT_CANARY_MIN_EVENTS,
    ) -> AlertPolicy:
        """A canary's tier: seconds, not hours, with enough samples to mean something."""
        tier = BurnRateTier(
            CANARY_TIER, Severity.PAGE, long_window_seconds, short_window_seconds, factor
        )
        return cls((tier,), min_events)
