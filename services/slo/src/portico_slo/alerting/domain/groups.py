"""Aggregation groups and the notification log, with Alertmanager's semantics.

An alert routed to a route joins the group of that route and its group
labels (`dispatch.go`). A new group first flushes after `group_wait` (at
once when its first alert started longer ago than that), then every
`group_interval`. A flush takes the group's alerts, drops the muted ones
(inhibited, then silenced), and asks the notification log whether the
receiver must hear of the rest (`DedupStage.needsUpdate`): the first time;
when alerts it has not heard of fire; when some resolved (if the receiver
wants resolved notifications); when all resolved; and, nothing having
changed, when `repeat_interval` has passed. Resolved alerts then leave the
group, and a group left empty is destroyed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from portico_slo.alerting.domain.alerts import Alert
from portico_slo.alerting.domain.labels import LabelSet, format_labels
from portico_slo.alerting.domain.notifications import (
    Notification,
    NotifiedAlert,
    NotifyReason,
)
from portico_slo.alerting.domain.routing import Route


def group_key(route: Route, group_labels: LabelSet) -> str:
    """Names a group: the route's id and the group labels (Alertmanager's GroupKey)."""
    return f"{route.id}:{format_labels(group_labels)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertGroup:
    """The alerts of one tenant that share a route and group labels."""

    tenant_id: str
    key: str
    receiver: str
    labels: Mapping[str, str]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    alerts: Mapping[str, Alert]
    next_flush_at: datetime
    created_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", dict(self.labels))
        object.__setattr__(self, "alerts", dict(self.alerts))

    @classmethod
    def open(cls, route: Route, alert: Alert, now: datetime) -> AlertGroup:
        """A new group for `alert` on `route`; it first flushes after group_wait.

        An alert that started longer than group_wait ago (a late event, a
        regrouping after the tree changed) is flushed at once.
        """
        labels = route.group_labels(alert.labels)
        wait = route.options.group_wait
        next_flush = now if alert.starts_at + wait < now else now + wait
        return cls(
            tenant_id=alert.tenant_id,
            key=group_key(route, labels),
            receiver=route.options.receiver,
            labels=labels,
            group_wait=wait,
            group_interval=route.options.group_interval,
            repeat_interval=route.options.repeat_interval,
            alerts={alert.fingerprint: alert},
            next_flush_at=next_flush,
            created_at=now,
        )

    def insert(self, alert: Alert) -> AlertGroup:
        """The group with `alert` added, or merged into the alert it updates."""
        current = self.alerts.get(alert.fingerprint)
        merged = alert if current is None else current.merge(alert)
        return replace(self, alerts={**self.alerts, alert.fingerprint: merged})

    def due(self, now: datetime) -> bool:
        return self.next_flush_at <= now


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEntry:
    """What a receiver was last told about a group (Alertmanager's nflog entry)."""

    tenant_id: str
    group_key: str
    receiver: str
    firing: frozenset[str]
    resolved: frozenset[str]
    notified_at: datetime
    # The notification that made this entry; a failed delivery of it clears the
    # entry, so the next flush tells the receiver again.
    notification_id: str = ""


def needs_update(  # noqa: PLR0911 - one return per Alertmanager case reads as the original
    entry: LogEntry | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    *,
    repeat_interval: timedelta,
    send_resolved: bool,
    now: datetime,
) -> NotifyReason:
    """Alertmanager's `DedupStage.needsUpdate`, case for case."""
    if entry is None:
        return NotifyReason.FIRST_NOTIFICATION if firing else NotifyReason.NONE
    if not firing <= entry.firing:
        # After a notification that all had resolved, this is a first notification again.
        if not entry.firing:
            return NotifyReason.FIRST_NOTIFICATION
        return NotifyReason.NEW_ALERTS_IN_GROUP
    if not firing:
        # Told of alerts firing, now all resolved: say so (whether or not the
        # receiver sends resolved notifications, so the log is cleared). Alerts
        # that fired and resolved between two flushes were never told: stay quiet.
        return NotifyReason.ALL_ALERTS_RESOLVED if entry.firing else NotifyReason.NONE
    if send_resolved and not resolved <= entry.resolved:
        return NotifyReason.NEW_RESOLVED_ALERTS
    if entry.notified_at < now - repeat_interval:
        return NotifyReason.REPEAT_INTERVAL_ELAPSED
    return NotifyReason.NONE


@dataclass(frozen=True, slots=True, kw_only=True)
class Flush:
    """What flushing a group decided."""

    # None: the group is empty and destroyed.
    group: AlertGroup | None
    reason: NotifyReason
    # To queue for the receiver; None when nothing is to be sent.
    notification: Notification | None
    # The receiver's new log entry; None leaves the log as it was.
    entry: LogEntry | None
    muted: frozenset[str]


def flush(
    group: AlertGroup,
    now: datetime,
    *,
    entry: LogEntry | None,
    mutes: Callable[[LabelSet], bool],
    send_resolved: bool,
    notification_id: str,
) -> Flush:
    """Flush `group` at `now`: maybe a notification, a new log entry, the group that remains.

    `mutes` answers for inhibition and silences together. When the receiver
    takes no resolved notifications and only resolved alerts are left, the
    log is updated but nothing is sent (Alertmanager's RetryStage).
    """
    # Ordered by label set, as Alertmanager's AlertSlice sorts (it puts job and
    # instance first; SLO alerts have neither).
    alerts = sorted(group.alerts.values(), key=lambda a: sorted(a.labels.items()))
    resolved_now = frozenset(a.fingerprint for a in alerts if a.resolved_at(now))
    muted = frozenset(a.fingerprint for a in alerts if mutes(a.labels))
    passed = [a for a in alerts if a.fingerprint not in muted]
    firing = frozenset(a.fingerprint for a in passed if not a.resolved_at(now))
    resolved = frozenset(a.fingerprint for a in passed if a.resolved_at(now))
    reason = NotifyReason.NONE
    notification: Notification | None = None
    new_entry: LogEntry | None = None
    if passed:
        reason = needs_update(
            entry,
            firing,
            resolved,
            repeat_interval=group.repeat_interval,
            send_resolved=send_resolved,
            now=now,
        )
    if reason is not NotifyReason.NONE:
        new_entry = LogEntry(
            tenant_id=group.tenant_id,
            group_key=group.key,
            receiver=group.receiver,
            firing=firing,
            resolved=resolved,
            notified_at=now,
            notification_id=notification_id,
        )
        sent = passed if send_resolved else [a for a in passed if a.fingerprint in firing]
        if sent:
            notification = Notification(
                notification_id=notification_id,
                tenant_id=group.tenant_id,
                receiver=group.receiver,
                group_key=group.key,
                group_labels=group.labels,
                reason=reason,
                alerts=tuple(NotifiedAlert.of(a, now) for a in sent),
                created_at=now,
                repeat_interval=group.repeat_interval,
            )
        else:
            new_entry = replace(new_entry, notification_id="")
    remaining = {fp: a for fp, a in group.alerts.items() if fp not in resolved_now}
    after = (
        replace(group, alerts=remaining, next_flush_at=now + group.group_interval)
        if remaining
        else None
    )
    return Flush(
        group=after, reason=reason, notification=notification, entry=new_entry, muted=muted
    )
