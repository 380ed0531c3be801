"""Alerts merge as Alertmanager's `types.Alert.Merge`; signals become labelled alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portico_slo.alerting.domain.alerts import Alert, AlertStatus, common_labels
from portico_slo.alerting.domain.signals import Severity, SloSignal

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LABELS = {"slo": "s1", "tier": "1h/5m"}


def alert(starts: datetime, updated: datetime, ends: datetime | None = None) -> Alert:
    return Alert(
        tenant_id="acme", labels=LABELS, starts_at=starts, updated_at=updated, ends_at=ends
    )


def test_the_younger_update_wins_and_the_earliest_start_is_kept() -> None:
    """A repeated firing keeps the first start; a resolution takes the younger update's end."""
    first = alert(T0, T0)
    again = alert(T0 + timedelta(minutes=1), T0 + timedelta(minutes=1))
    assert first.merge(again).starts_at == T0
    resolved = alert(
        T0 + timedelta(minutes=2), T0 + timedelta(minutes=2), T0 + timedelta(minutes=2)
    )
    merged = first.merge(resolved)
    assert (merged.starts_at, merged.ends_at) == (T0, T0 + timedelta(minutes=2))
    # Merging is the same whichever side holds the older update.
    assert resolved.merge(first) == merged


def test_a_firing_after_a_resolution_starts_anew() -> None:
    """An alert that fires again after it resolved is a new firing with its own start."""
    resolved = alert(T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=5))
    again = alert(T0 + timedelta(hours=1), T0 + timedelta(hours=1))
    merged = resolved.merge(again)
    assert merged.starts_at == T0 + timedelta(hours=1)
    assert merged.ends_at is None


def test_the_latest_resolution_wins_between_two_resolved() -> None:
    """When both are resolved, the later end is kept."""
    late = alert(T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=9))
    early = alert(T0, T0 + timedelta(minutes=2), T0 + timedelta(minutes=3))
    assert late.merge(early).ends_at == T0 + timedelta(minutes=9)


def test_an_alert_resolves_at_its_end_not_before() -> None:
    """ResolvedAt: resolved from ends_at on; firing while it has no end."""
    a = alert(T0, T0, T0 + timedelta(minutes=1))
    assert a.status_at(T0) is AlertStatus.FIRING
    assert a.status_at(T0 + timedelta(minutes=1)) is AlertStatus.RESOLVED
    assert alert(T0, T0).status_at(T0 + timedelta(days=1)) is AlertStatus.FIRING


def test_a_violation_becomes_an_alert_with_the_slo_labels() -> None:
    """Tenant, plugin, version, slo, tier, severity and team are labels; no team, no label."""
    signal = SloSignal(
        tenant_id="acme",
        slo_id="s1",
        plugin="@acme/p",
        version="1.0.0",
        firing=True,
        at=T0,
        tier="6h/30m",
        severity=Severity.PAGE,
        team="payments",
    )
    assert signal.alert().labels == {
        "alertname": "SLOBurnRate",
        "tenant": "acme",
        "plugin": "@acme/p",
        "version": "1.0.0",
        "slo": "s1",
        "tier": "6h/30m",
        "severity": "page",
        "team": "payments",
    }
    teamless = SloSignal(
        tenant_id="acme", slo_id="s1", plugin="p", version="1", firing=False, at=T0
    ).alert()
    assert "team" not in teamless.labels
    assert teamless.ends_at == T0


def test_common_labels_are_those_every_alert_shares() -> None:
    """A notification's common labels: same name and value in every alert."""
    assert common_labels([{"a": "1", "b": "2"}, {"a": "1", "b": "3"}]) == {"a": "1"}
    assert common_labels([]) == {}
