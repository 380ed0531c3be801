"""Aggregation groups, deduplication and flushes, with Alertmanager's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portico_slo.alerting.domain.alerts import Alert, AlertStatus
from portico_slo.alerting.domain.groups import AlertGroup, LogEntry, flush, needs_update
from portico_slo.alerting.domain.notifications import NotifyReason
from portico_slo.alerting.domain.routing import RouteConfig, compile_tree

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TREE = compile_tree(
    RouteConfig(receiver="oncall", group_by=("slo",), group_wait=timedelta(seconds=30)),
    ["oncall"],
)


def entry(
    firing: set[str] = frozenset(),  # type: ignore[assignment]
    resolved: set[str] = frozenset(),  # type: ignore[assignment]
    age: timedelta = timedelta(0),
) -> LogEntry:
    return LogEntry(
        tenant_id="acme",
        group_key="g",
        receiver="oncall",
        firing=frozenset(firing),
        resolved=frozenset(resolved),
        notified_at=NOW - age,
    )


# Alertmanager's TestDedupStageNeedsUpdate, case by case (its zero-timestamp case has no
# counterpart: an entry here always has the time it was written).
NEEDS_UPDATE = [
    ("no entry, alerts fire", None, {"2", "3", "4"}, set(), 0, False, True),
    ("no entry, nothing fires", None, set(), {"2", "3", "4"}, 0, False, False),
    ("other firing alerts", entry({"1", "2", "3"}), {"2", "3", "4"}, set(), 0, False, True),
    ("same firing before repeat", entry({"1", "2", "3"}, age=timedelta(minutes=9)),
     {"1", "2", "3"}, set(), 10, False, False),
    ("same firing after repeat", entry({"1", "2", "3"}, age=timedelta(minutes=11)),
     {"1", "2", "3"}, set(), 10, False, True),
    ("other resolved, none firing", entry(resolved={"1", "2", "3"}, age=timedelta(minutes=11)),
     set(), {"3", "4", "5"}, 10, True, False),
    ("other resolved, resolved not sent", entry({"1", "2"}, {"3"}, timedelta(minutes=9)),
     {"1"}, {"2", "3"}, 10, False, False),
    ("other resolved, resolved sent", entry({"1", "2"}, {"3"}, timedelta(minutes=9)),
     {"1"}, {"2", "3"}, 10, True, True),
    ("none firing, resolved not sent", entry({"1", "2"}, {"3"}, timedelta(minutes=9)),
     set(), {"1", "2", "3"}, 10, False, True),
    ("none firing, resolved sent", entry({"1", "2"}, {"3"}, timedelta(minutes=9)),
     set(), {"1", "2", "3"}, 10, True, True),
]  # fmt: skip


NeedsUpdateCase = tuple[str, LogEntry | None, set[str], set[str], int, bool, bool]


@pytest.mark.parametrize("case", NEEDS_UPDATE, ids=[c[0] for c in NEEDS_UPDATE])
def test_needs_update_mirrors_alertmanager(case: NeedsUpdateCase) -> None:
    """Whether a receiver is told again decides as Alertmanager's dedup stage does."""
    _, log, firing, resolved, repeat_minutes, send_resolved, notify = case
    reason = needs_update(
        log,
        frozenset(firing),
        frozenset(resolved),
        repeat_interval=timedelta(minutes=repeat_minutes),
        send_resolved=send_resolved,
        now=NOW,
    )
    assert (reason is not NotifyReason.NONE) is notify


def test_reasons_are_alertmanagers() -> None:
    """The reason names the case: first, new alerts, some or all resolved, repeat."""
    told = entry({"1"}, age=timedelta(minutes=1))
    args = {"repeat_interval": timedelta(hours=4), "send_resolved": True, "now": NOW}
    assert needs_update(None, frozenset({"1"}), frozenset(), **args) is (
        NotifyReason.FIRST_NOTIFICATION
    )
    assert needs_update(told, frozenset({"1", "2"}), frozenset(), **args) is (
        NotifyReason.NEW_ALERTS_IN_GROUP
    )
    assert needs_update(entry(set()), frozenset({"1"}), frozenset(), **args) is (
        NotifyReason.FIRST_NOTIFICATION
    )
    assert needs_update(told, frozenset(), frozenset({"1"}), **args) is (
        NotifyReason.ALL_ALERTS_RESOLVED
    )


def alert(
    slo: str = "s1", tier: str = "1h", *, starts: datetime = NOW, ends: datetime | None = None
) -> Alert:
    return Alert(
        tenant_id="acme",
        labels={"slo": slo, "tier": tier, "severity": "page"},
        starts_at=starts,
        updated_at=ends or starts,
        ends_at=ends,
    )


def open_group(first: Alert, now: datetime = NOW) -> AlertGroup:
    [route] = TREE.match(first.labels)
    return AlertGroup.open(route, first, now)


def test_a_new_group_waits_group_wait_unless_its_alert_is_older() -> None:
    """group_wait delays the first flush; an alert older than that is flushed at once."""
    fresh = open_group(alert())
    assert fresh.next_flush_at == NOW + timedelta(seconds=30)
    assert fresh.key == '{}:{slo="s1"}'
    late = open_group(alert(starts=NOW - timedelta(minutes=5)))
    assert late.next_flush_at == NOW


def test_a_flush_notifies_logs_and_schedules_the_next_after_group_interval() -> None:
    """The first flush notifies every firing alert and schedules the next flush."""
    group = open_group(alert()).insert(alert(tier="6h"))
    result = flush(
        group, NOW, entry=None, mutes=lambda _: False, send_resolved=True, notification_id="n1"
    )
    assert result.reason is NotifyReason.FIRST_NOTIFICATION
    assert result.notification is not None
    assert [a.labels["tier"] for a in result.notification.alerts] == ["1h", "6h"]
    assert result.notification.status is AlertStatus.FIRING
    assert result.entry is not None
    assert result.entry.firing == {a.fingerprint for a in group.alerts.values()}
    assert result.group is not None
    assert result.group.next_flush_at == NOW + timedelta(minutes=5)


def test_muted_alerts_are_left_out_and_a_fully_muted_group_is_not_logged() -> None:
    """Silenced or inhibited alerts are not sent; if all are, the log stays as it was."""
    group = open_group(alert()).insert(alert(tier="6h"))
    partly = flush(
        group,
        NOW,
        entry=None,
        mutes=lambda labels: labels["tier"] == "6h",
        send_resolved=True,
        notification_id="n1",
    )
    assert partly.notification is not None
    assert [a.labels["tier"] for a in partly.notification.alerts] == ["1h"]
    assert len(partly.muted) == 1
    fully = flush(
        group, NOW, entry=None, mutes=lambda _: True, send_resolved=True, notification_id="n2"
    )
    assert (fully.notification, fully.entry, fully.reason) == (None, None, NotifyReason.NONE)


def test_resolved_alerts_are_notified_once_then_leave_and_empty_groups_end() -> None:
    """A resolution is told, the resolved alert leaves the group, an empty group is destroyed."""
    firing = alert()
    group = open_group(firing)
    first = flush(
        group, NOW, entry=None, mutes=lambda _: False, send_resolved=True, notification_id="n1"
    )
    assert first.group is not None
    later = NOW + timedelta(minutes=5)
    resolved = first.group.insert(alert(ends=later - timedelta(seconds=1)))
    second = flush(
        resolved,
        later,
        entry=first.entry,
        mutes=lambda _: False,
        send_resolved=True,
        notification_id="n2",
    )
    assert second.reason is NotifyReason.ALL_ALERTS_RESOLVED
    assert second.notification is not None
    assert second.notification.status is AlertStatus.RESOLVED
    assert second.group is None


def test_without_send_resolved_only_the_log_learns_of_a_resolution() -> None:
    """A receiver that takes no resolved notifications is not sent one; the log is cleared."""
    group = open_group(alert())
    first = flush(
        group, NOW, entry=None, mutes=lambda _: False, send_resolved=False, notification_id="n1"
    )
    assert first.group is not None
    later = NOW + timedelta(minutes=5)
    resolved = first.group.insert(alert(ends=later))
    second = flush(
        resolved,
        later,
        entry=first.entry,
        mutes=lambda _: False,
        send_resolved=False,
        notification_id="n2",
    )
    assert second.reason is NotifyReason.ALL_ALERTS_RESOLVED
    assert second.notification is None
    assert second.entry is not None
    assert second.entry.firing == frozenset()
    assert second.entry.notification_id == ""
