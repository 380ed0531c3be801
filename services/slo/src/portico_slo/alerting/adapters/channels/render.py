"""Words for a notification, shared by the channels that show text to people."""

from __future__ import annotations

from datetime import UTC

from portico_slo.alerting.domain.alerts import AlertStatus
from portico_slo.alerting.domain.notifications import Notification, NotifiedAlert


def title(notification: Notification) -> str:
    """Alertmanager's default title: `[FIRING:2] value value ...` of the group labels."""
    status = notification.status
    count = f":{len(notification.firing)}" if status is AlertStatus.FIRING else ""
    values = " ".join(notification.group_labels[k] for k in sorted(notification.group_labels))
    common = notification.common_labels
    subject = values or " ".join(
        v for v in (common.get("alertname", ""), common.get("plugin", "")) if v
    )
    return f"[{status.value.upper()}{count}] {subject}".rstrip()


def alert_line(alert: NotifiedAlert) -> str:
    """One alert in a sentence: what, where, since when."""
    labels = alert.labels
    what = labels.get("alertname", "alert")
    where = "@".join(v for v in (labels.get("plugin", ""), labels.get("version", "")) if v)
    tier = labels.get("tier", "")
    severity = labels.get("severity", "")
    head = " ".join(p for p in (severity.upper(), what, where, f"tier {tier}" if tier else "") if p)
    since = alert.starts_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    state = (
        f"resolved at {alert.ends_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        if alert.ends_at
        else f"since {since}"
    )
    summary = alert.annotations.get("summary", "")
    return f"{head} ({state})" + (f": {summary}" if summary else "")


def body(notification: Notification) -> str:
    """The notification as plain text: title, each alert, the labels it was grouped by."""
    lines = [title(notification), ""]
    for group, alerts in (("Firing", notification.firing), ("Resolved", notification.resolved)):
        if alerts:
            lines.append(f"{group}:")
            lines += [f"- {alert_line(a)}" for a in alerts]
            lines.append("")
    labels = ", ".join(f"{k}={v}" for k, v in sorted(notification.common_labels.items()))
    lines.append(f"Labels: {labels}")
    lines.append(f"Reason: {notification.reason.value}")
    return "\n".join(lines) + "\n"
