"""Inhibition follows Alertmanager's rules: a page inhibits the ticket of the same SLO."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portico_slo.alerting.domain.alerts import Alert
from portico_slo.alerting.domain.inhibition import PAGE_INHIBITS_TICKET, Inhibitor, InhibitRule
from portico_slo.alerting.domain.labels import Matcher

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def alert(severity: str, slo: str = "s1", ends: datetime | None = None, **labels: str) -> Alert:
    return Alert(
        tenant_id="acme",
        labels={"tenant": "acme", "slo": slo, "severity": severity, **labels},
        starts_at=NOW - timedelta(minutes=5),
        updated_at=NOW - timedelta(minutes=5),
        ends_at=ends,
    )


def test_a_firing_page_inhibits_the_ticket_of_its_slo_only() -> None:
    """Same SLO: inhibited; another SLO's ticket: not."""
    inhibitor = Inhibitor([PAGE_INHIBITS_TICKET], [alert("page")], NOW)
    assert inhibitor.mutes(alert("ticket").labels)
    assert not inhibitor.mutes(alert("ticket", slo="s2").labels)
    assert not inhibitor.mutes(alert("page").labels)


def test_a_resolved_page_inhibits_nothing() -> None:
    """Once the source resolves, the target is told again."""
    inhibitor = Inhibitor([PAGE_INHIBITS_TICKET], [alert("page", ends=NOW)], NOW)
    assert not inhibitor.mutes(alert("ticket").labels)


def test_silenced_sources_still_inhibit() -> None:
    """The inhibitor sees every firing alert, silenced or not (Alertmanager's scache)."""
    page = alert("page")
    inhibitor = Inhibitor([PAGE_INHIBITS_TICKET], [page], NOW)
    assert inhibitor.mutes(alert("ticket").labels)


def test_alerts_matching_both_sides_do_not_inhibit_each_other() -> None:
    """A rule whose source and target both match two alerts lets both through."""
    rule = InhibitRule(
        source_matchers=(Matcher.of("kind", "=", "slo"),),
        target_matchers=(Matcher.of("kind", "=", "slo"),),
        equal=("slo",),
    )
    a = alert("page", kind="slo", tier="1h")
    b = alert("page", kind="slo", tier="6h")
    inhibitor = Inhibitor([rule], [a, b], NOW)
    assert not inhibitor.mutes(a.labels)
    assert not inhibitor.mutes(b.labels)
