"""Notifications: what a flush of an aggregation group tells a receiver, and its delivery.

The content follows Alertmanager's webhook data (`template.Data`): the
receiver, the group's status, its labels, the labels and annotations every
alert shares, and each alert with its status and times.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from portico_slo.alerting.domain.alerts import Alert, AlertStatus, common_labels


class NotifyReason(StrEnum):
    """Why a flush notifies, in Alertmanager's words (`notify.NotifyReason`)."""

    NONE = "none"
    FIRST_NOTIFICATION = "first notification"
    NEW_ALERTS_IN_GROUP = "new alerts added"
    NEW_RESOLVED_ALERTS = "some alerts resolved"
    ALL_ALERTS_RESOLVED = "all alerts resolved"
    REPEAT_INTERVAL_ELAPSED = "repeat interval elapsed"


@dataclass(frozen=True, slots=True)
class NotifiedAlert:
    """One alert as a notification shows it."""

    fingerprint: str
    status: AlertStatus
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None

    @classmethod
    def of(cls, alert: Alert, now: datetime) -> NotifiedAlert:
        return cls(
            fingerprint=alert.fingerprint,
            status=alert.status_at(now),
            labels=alert.labels,
            annotations=alert.annotations,
            starts_at=alert.starts_at,
            ends_at=alert.ends_at if alert.resolved_at(now) else None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """A message for one receiver about one aggregation group."""

    notification_id: str
    tenant_id: str
    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    reason: NotifyReason
    alerts: tuple[NotifiedAlert, ...]
    created_at: datetime
    # The route's repeat interval: a receiver that expires alerts by itself
    # (Alertmanager) keeps a firing alert alive at least this long.
    repeat_interval: timedelta = field(default=timedelta(hours=4))

    def __post_init__(self) -> None:
        object.__setattr__(self, "group_labels", dict(self.group_labels))

    @property
    def status(self) -> AlertStatus:
        """Firing while any alert fires; resolved when all have."""
        if any(a.status is AlertStatus.FIRING for a in self.alerts):
            return AlertStatus.FIRING
        return AlertStatus.RESOLVED

    @property
    def firing(self) -> tuple[NotifiedAlert, ...]:
        return tuple(a for a in self.alerts if a.status is AlertStatus.FIRING)

    @property
    def resolved(self) -> tuple[NotifiedAlert, ...]:
        return tuple(a for a in self.alerts if a.status is AlertStatus.RESOLVED)

    @property
    def common_labels(self) -> dict[str, str]:
        return common_labels(a.labels for a in self.alerts)

    @property
    def common_annotations(self) -> dict[str, str]:
        return common_labels(a.annotations for a in self.alerts)


class DeliveryState(StrEnum):
    """Where a notification's delivery stands."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    # Never sent: the channel's queue was full, or the channel is gone.
    DROPPED = "dropped"


FINAL_STATES = frozenset({DeliveryState.DELIVERED, DeliveryState.FAILED, DeliveryState.DROPPED})


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """A notification's entry in the delivery queue and log: its outcome once final."""

    notification: Notification
    channel_id: str
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    # Redacted: never holds a secret of the channel.
    error: str = ""
    status_code: int = 0
    # While SENDING: when the claim lapses and another worker may take it.
    lease_until: datetime | None = None
    finished_at: datetime | None = None

    @property
    def notification_id(self) -> str:
        return self.notification.notification_id

    @property
    def tenant_id(self) -> str:
        return self.notification.tenant_id
