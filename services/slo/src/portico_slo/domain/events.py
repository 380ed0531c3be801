"""Domain events the slo service emits; units of work publish them, adapters map them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class SloViolated:
    """A burn-rate tier started firing for an SLO (a faster one firing inhibits it)."""

    tenant_id: str
    slo_id: str
    plugin: str
    version: str
    rule: str
    short_window_burn_rate: float
    long_window_burn_rate: float
    threshold: float
    # Carried to rollout.rolled_back so reaction time is measurable end to end.
    detected_at: datetime
    tier: str = ""
    severity: str = ""
    short_window_seconds: int = 0
    long_window_seconds: int = 0
    # The evidence: events in each window when the tier fired.
    short_good: int = 0
    short_bad: int = 0
    long_good: int = 0
    long_bad: int = 0
    violation_id: str = ""
    name: str = ""
    scope: str = ""
    rollout_id: str = ""
    team: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class SloRecovered:
    """A firing tier stopped burning; with `slo_ok` no tier of the SLO fires any more."""

    tenant_id: str
    slo_id: str
    plugin: str
    version: str
    tier: str
    severity: str
    violation_id: str
    violated_at: datetime
    recovered_at: datetime
    short_window_burn_rate: float
    long_window_burn_rate: float
    threshold: float
    slo_ok: bool
    name: str = ""
    scope: str = ""
    rollout_id: str = ""
    team: str = ""


# Every event slo publishes.
SloEvent = SloViolated | SloRecovered
