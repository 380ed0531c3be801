"""JSON forms of the alerting domain's values, for the database's jsonb columns."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from portico_slo.alerting.domain.alerts import Alert, AlertStatus
from portico_slo.alerting.domain.inhibition import InhibitRule
from portico_slo.alerting.domain.labels import Matcher
from portico_slo.alerting.domain.notifications import Notification, NotifiedAlert, NotifyReason
from portico_slo.alerting.domain.routing import RouteConfig


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def _delta(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


def matchers_json(matchers: tuple[Matcher, ...]) -> list[dict[str, str]]:
    return [{"name": m.name, "type": m.type.value, "value": m.value} for m in matchers]


def matchers_of(data: list[dict[str, str]]) -> tuple[Matcher, ...]:
    return tuple(Matcher.of(m["name"], m["type"], m["value"]) for m in data)


def route_json(route: RouteConfig) -> dict[str, Any]:
    return {
        "receiver": route.receiver,
        "matchers": matchers_json(route.matchers),
        "group_by": None if route.group_by is None else list(route.group_by),
        "group_wait": _seconds(route.group_wait),
        "group_interval": _seconds(route.group_interval),
        "repeat_interval": _seconds(route.repeat_interval),
        "continue": route.continue_matching,
        "routes": [route_json(r) for r in route.routes],
    }


def route_of(data: Mapping[str, Any]) -> RouteConfig:
    group_by = data.get("group_by")
    return RouteConfig(
        receiver=data.get("receiver", ""),
        matchers=matchers_of(data.get("matchers", [])),
        group_by=None if group_by is None else tuple(group_by),
        group_wait=_delta(data.get("group_wait")),
        group_interval=_delta(data.get("group_interval")),
        repeat_interval=_delta(data.get("repeat_interval")),
        continue_matching=bool(data.get("continue", False)),
        routes=tuple(route_of(r) for r in data.get("routes", [])),
    )


def rules_json(rules: tuple[InhibitRule, ...]) -> list[dict[str, Any]]:
    return [
        {
            "source_matchers": matchers_json(r.source_matchers),
            "target_matchers": matchers_json(r.target_matchers),
            "equal": list(r.equal),
        }
        for r in rules
    ]


def rules_of(data: list[dict[str, Any]]) -> tuple[InhibitRule, ...]:
    return tuple(
        InhibitRule(
            source_matchers=matchers_of(r["source_matchers"]),
            target_matchers=matchers_of(r["target_matchers"]),
            equal=tuple(r.get("equal", [])),
        )
        for r in data
    )


def alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "tenant_id": alert.tenant_id,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "starts_at": _time(alert.starts_at),
        "ends_at": _time(alert.ends_at),
        "updated_at": _time(alert.updated_at),
    }


def alert_of(data: Mapping[str, Any]) -> Alert:
    return Alert(
        tenant_id=data["tenant_id"],
        labels=data["labels"],
        annotations=data.get("annotations", {}),
        starts_at=datetime.fromisoformat(data["starts_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        ends_at=_parse_time(data.get("ends_at")),
    )


def notification_json(n: Notification) -> dict[str, Any]:
    return {
        "notification_id": n.notification_id,
        "tenant_id": n.tenant_id,
        "receiver": n.receiver,
        "group_key": n.group_key,
        "group_labels": dict(n.group_labels),
        "reason": n.reason.value,
        "created_at": _time(n.created_at),
        "repeat_interval": _seconds(n.repeat_interval),
        "alerts": [
            {
                "fingerprint": a.fingerprint,
                "status": a.status.value,
                "labels": dict(a.labels),
                "annotations": dict(a.annotations),
                "starts_at": _time(a.starts_at),
                "ends_at": _time(a.ends_at),
            }
            for a in n.alerts
        ],
    }


def notification_of(data: Mapping[str, Any]) -> Notification:
    alerts = [
        NotifiedAlert(
            fingerprint=a["fingerprint"],
            status=AlertStatus(a["status"]),
            labels=a["labels"],
            annotations=a["annotations"],
            starts_at=datetime.fromisoformat(a["starts_at"]),
            ends_at=_parse_time(a.get("ends_at")),
        )
        for a in data["alerts"]
    ]
    return Notification(
        notification_id=data["notification_id"],
        tenant_id=data["tenant_id"],
        receiver=data["receiver"],
        group_key=data["group_key"],
        group_labels=data["group_labels"],
        reason=NotifyReason(data["reason"]),
        alerts=tuple(alerts),
        created_at=datetime.fromisoformat(data["created_at"]),
        repeat_interval=_delta(data.get("repeat_interval")) or timedelta(hours=4),
    )
