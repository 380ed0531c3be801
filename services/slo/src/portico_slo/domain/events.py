"""Domain events the slo service emits; units of work publish them, adapters map them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class SloViolated:
    """A burn-rate rule tripped for a plugin version."""

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


# Every event slo publishes (one kind so far).
SloEvent = SloViolated
