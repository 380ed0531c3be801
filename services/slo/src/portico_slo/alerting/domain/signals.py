"""What slo's own events say, as alerts: one alert per SLO and burn-rate tier.

A violation fires the alert of its tier; a recovery resolves it (or, when
the recovery names no tier, every tier of that SLO). Labels are what routes,
silences and inhibition match on: tenant, plugin, version, slo, tier,
severity (page or ticket) and the SLO's team when it has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from portico_slo.alerting.domain.alerts import Alert
from portico_slo.alerting.domain.labels import check_labels, require_aware

SLO_ALERT_NAME = "SLOBurnRate"


class Severity(StrEnum):
    """How urgently a person must act: page now, or file a ticket."""

    PAGE = "page"
    TICKET = "ticket"


@dataclass(frozen=True, slots=True, kw_only=True)
class SloSignal:
    """A violation (firing) or a recovery (not firing) of one SLO tier."""

    tenant_id: str
    slo_id: str
    plugin: str
    version: str
    firing: bool
    at: datetime
    # "" on a recovery: every tier of the SLO recovers.
    tier: str = ""
    severity: Severity = Severity.PAGE
    team: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_aware(self.at, "at")

    def labels(self, tier: str | None = None) -> dict[str, str]:
        """The alert's labels (for `tier` when given); an empty team is left out."""
        return check_labels(
            {
                "alertname": SLO_ALERT_NAME,
                "tenant": self.tenant_id,
                "plugin": self.plugin,
                "version": self.version,
                "slo": self.slo_id,
                "tier": self.tier if tier is None else tier,
                "severity": self.severity.value,
                "team": self.team,
            }
        )

    def alert(self) -> Alert:
        """The alert this signal fires, or resolves."""
        return Alert(
            tenant_id=self.tenant_id,
            labels=self.labels(),
            annotations=self.annotations,
            starts_at=self.at,
            updated_at=self.at,
            ends_at=None if self.firing else self.at,
        )


def resolve(alert: Alert, at: datetime) -> Alert:
    """`alert` resolved at `at` (a recovery without a tier resolves each firing tier)."""
    return Alert(
        tenant_id=alert.tenant_id,
        labels=alert.labels,
        annotations=alert.annotations,
        starts_at=alert.starts_at,
        updated_at=at,
        ends_at=at,
    )
