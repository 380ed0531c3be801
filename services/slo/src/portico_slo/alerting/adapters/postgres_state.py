"""PostgreSQL repositories of what the alerting engine keeps: alerts, groups, the
notification log, and the delivery queue and log."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import asyncpg

from portico_common.db import Connection
from portico_slo.alerting.adapters.codec import (
    alert_json,
    alert_of,
    notification_json,
    notification_of,
)
from portico_slo.alerting.app.ports import Claimed, HistoryEntry
from portico_slo.alerting.domain.alerts import Alert, AlertStatus
from portico_slo.alerting.domain.channels import Channel, ChannelKind
from portico_slo.alerting.domain.groups import AlertGroup, LogEntry
from portico_slo.alerting.domain.notifications import Delivery, DeliveryState


class PgAlerts:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, tenant_id: str, fingerprint: str) -> Alert | None:
        row = await self._conn.fetchrow(
            """SELECT tenant_id, labels, annotations, starts_at, ends_at, updated_at
                 FROM alerts WHERE tenant_id = $1 AND fingerprint = $2""",
            tenant_id,
            fingerprint,
        )
        return None if row is None else _alert(row)

    async def put(self, alert: Alert) -> None:
        await self._conn.execute(
            """INSERT INTO alerts (tenant_id, fingerprint, labels, annotations, starts_at,
                   ends_at, updated_at)
               VALUES ($1, $2, $3::jsonb, $4::jsonb, $5, $6, $7)
               ON CONFLICT (tenant_id, fingerprint) DO UPDATE SET
                   annotations = EXCLUDED.annotations, starts_at = EXCLUDED.starts_at,
                   ends_at = EXCLUDED.ends_at, updated_at = EXCLUDED.updated_at""",
            alert.tenant_id,
            alert.fingerprint,
            json.dumps(dict(alert.labels)),
            json.dumps(dict(alert.annotations)),
            alert.starts_at,
            alert.ends_at,
            alert.updated_at,
        )

    async def for_tenant(self, tenant_id: str) -> list[Alert]:
        rows = await self._conn.fetch(
            """SELECT tenant_id, labels, annotations, starts_at, ends_at, updated_at
                 FROM alerts WHERE tenant_id = $1 ORDER BY starts_at, fingerprint""",
            tenant_id,
        )
        return [_alert(r) for r in rows]

    async def record(self, entry: HistoryEntry) -> None:
        await self._conn.execute(
            """INSERT INTO alert_history (tenant_id, fingerprint, labels, status, at, event_id)
               VALUES ($1, $2, $3::jsonb, $4, $5, $6)""",
            entry.tenant_id,
            entry.fingerprint,
            json.dumps(dict(entry.labels)),
            entry.status.value,
            entry.at,
            entry.event_id,
        )

    async def history(self, tenant_id: str, *, limit: int) -> list[HistoryEntry]:
        rows = await self._conn.fetch(
            """SELECT tenant_id, fingerprint, labels, status, at, event_id FROM alert_history
                WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2""",
            tenant_id,
            limit,
        )
        return [
            HistoryEntry(
                tenant_id=r["tenant_id"],
                fingerprint=r["fingerprint"],
                labels=json.loads(r["labels"]),
                status=AlertStatus(r["status"]),
                at=r["at"],
                event_id=r["event_id"],
            )
            for r in rows
        ]


def _alert(row: asyncpg.Record) -> Alert:
    return Alert(
        tenant_id=row["tenant_id"],
        labels=json.loads(row["labels"]),
        annotations=json.loads(row["annotations"]),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        updated_at=row["updated_at"],
    )


_GROUP = """tenant_id, group_key, receiver, labels, group_wait_seconds, group_interval_seconds,
    repeat_interval_seconds, alerts, next_flush_at, created_at"""


def _group(row: asyncpg.Record) -> AlertGroup:
    return AlertGroup(
        tenant_id=row["tenant_id"],
        key=row["group_key"],
        receiver=row["receiver"],
        labels=json.loads(row["labels"]),
        group_wait=timedelta(seconds=row["group_wait_seconds"]),
        group_interval=timedelta(seconds=row["group_interval_seconds"]),
        repeat_interval=timedelta(seconds=row["repeat_interval_seconds"]),
        alerts={fp: alert_of(a) for fp, a in json.loads(row["alerts"]).items()},
        next_flush_at=row["next_flush_at"],
        created_at=row["created_at"],
    )


class PgGroups:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, tenant_id: str, key: str) -> AlertGroup | None:
        row = await self._conn.fetchrow(
            f"SELECT {_GROUP} FROM alert_groups WHERE tenant_id = $1 AND group_key = $2",  # noqa: S608 - constant column list
            tenant_id,
            key,
        )
        return None if row is None else _group(row)

    async def save(self, group: AlertGroup) -> None:
        await self._conn.execute(
            """INSERT INTO alert_groups (tenant_id, group_key, receiver, labels,
                   group_wait_seconds, group_interval_seconds, repeat_interval_seconds, alerts,
                   next_flush_at, created_at)
               VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8::jsonb, $9, $10)
               ON CONFLICT (tenant_id, group_key) DO UPDATE SET alerts = EXCLUDED.alerts,
                   next_flush_at = EXCLUDED.next_flush_at""",
            group.tenant_id,
            group.key,
            group.receiver,
            json.dumps(dict(group.labels)),
            group.group_wait.total_seconds(),
            group.group_interval.total_seconds(),
            group.repeat_interval.total_seconds(),
            json.dumps({fp: alert_json(a) for fp, a in group.alerts.items()}),
            group.next_flush_at,
            group.created_at,
        )

    async def delete(self, tenant_id: str, key: str) -> None:
        await self._conn.execute(
            "DELETE FROM alert_groups WHERE tenant_id = $1 AND group_key = $2", tenant_id, key
        )

    async def for_tenant(self, tenant_id: str) -> list[AlertGroup]:
        rows = await self._conn.fetch(
            f"SELECT {_GROUP} FROM alert_groups WHERE tenant_id = $1 ORDER BY group_key",  # noqa: S608 - constant column list
            tenant_id,
        )
        return [_group(r) for r in rows]

    async def claim_due(self, now: datetime, limit: int) -> list[AlertGroup]:
        rows = await self._conn.fetch(
            f"""SELECT {_GROUP} FROM alert_groups WHERE next_flush_at <= $1
                ORDER BY next_flush_at, tenant_id, group_key
                LIMIT $2 FOR UPDATE SKIP LOCKED""",  # noqa: S608 - constant column list
            now,
            limit,
        )
        return [_group(r) for r in rows]


class PgNotificationLog:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, tenant_id: str, group_key: str, receiver: str) -> LogEntry | None:
        row = await self._conn.fetchrow(
            """SELECT tenant_id, group_key, receiver, firing, resolved, notified_at,
                      notification_id
                 FROM alert_nflog WHERE tenant_id = $1 AND group_key = $2 AND receiver = $3""",
            tenant_id,
            group_key,
            receiver,
        )
        if row is None:
            return None
        return LogEntry(
            tenant_id=row["tenant_id"],
            group_key=row["group_key"],
            receiver=row["receiver"],
            firing=frozenset(row["firing"]),
            resolved=frozenset(row["resolved"]),
            notified_at=row["notified_at"],
            notification_id=row["notification_id"],
        )

    async def put(self, entry: LogEntry) -> None:
        await self._conn.execute(
            """INSERT INTO alert_nflog (tenant_id, group_key, receiver, firing, resolved,
                   notified_at, notification_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (tenant_id, group_key, receiver) DO UPDATE SET
                   firing = EXCLUDED.firing, resolved = EXCLUDED.resolved,
                   notified_at = EXCLUDED.notified_at,
                   notification_id = EXCLUDED.notification_id""",
            entry.tenant_id,
            entry.group_key,
            entry.receiver,
            sorted(entry.firing),
            sorted(entry.resolved),
            entry.notified_at,
            entry.notification_id,
        )

    async def forget(
        self, tenant_id: str, group_key: str, receiver: str, notification_id: str
    ) -> bool:
        deleted = await self._conn.fetchval(
            """DELETE FROM alert_nflog WHERE tenant_id = $1 AND group_key = $2
                  AND receiver = $3 AND notification_id = $4 RETURNING true""",
            tenant_id,
            group_key,
            receiver,
            notification_id,
        )
        return bool(deleted)


_DELIVERY = """d.tenant_id, d.notification_id, d.channel_id, d.notification, d.state,
    d.attempts, d.error, d.status_code, d.lease_until, d.finished_at"""


def _delivery(row: asyncpg.Record) -> Delivery:
    return Delivery(
        notification=notification_of(json.loads(row["notification"])),
        channel_id=row["channel_id"],
        state=DeliveryState(row["state"]),
        attempts=row["attempts"],
        error=row["error"],
        status_code=row["status_code"],
        lease_until=row["lease_until"],
        finished_at=row["finished_at"],
    )


class PgDeliveries:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def enqueue(self, delivery: Delivery, *, max_pending: int, now: datetime) -> int:
        await self.finish(delivery)
        dropped = await self._conn.fetchval(
            """WITH excess AS (
                   SELECT tenant_id, notification_id FROM alert_deliveries
                    WHERE tenant_id = $1 AND channel_id = $2 AND state = 'pending'
                    ORDER BY created_at DESC, notification_id OFFSET $3
                    FOR UPDATE SKIP LOCKED),
               gone AS (
                   UPDATE alert_deliveries d SET state = 'dropped', error = 'queue full',
                          finished_at = $4
                     FROM excess e
                    WHERE d.tenant_id = e.tenant_id AND d.notification_id = e.notification_id
                   RETURNING 1)
               SELECT count(*) FROM gone""",
            delivery.tenant_id,
            delivery.channel_id,
            max_pending,
            now,
        )
        return int(dropped)

    async def claim(
        self, now: datetime, *, limit: int, lease: timedelta, skip_channels: frozenset[str]
    ) -> list[Claimed]:
        rows = await self._conn.fetch(
            f"""WITH due AS (
                    SELECT tenant_id, notification_id FROM alert_deliveries
                     WHERE (state = 'pending' OR (state = 'sending' AND lease_until <= $1))
                       AND NOT (channel_id = ANY($3::text[]))
                     ORDER BY created_at, notification_id
                     LIMIT $2 FOR UPDATE SKIP LOCKED),
                taken AS (
                    UPDATE alert_deliveries d SET state = 'sending', lease_until = $4
                      FROM due
                     WHERE d.tenant_id = due.tenant_id
                       AND d.notification_id = due.notification_id
                    RETURNING d.*)
                SELECT {_DELIVERY}, c.name, c.kind, c.send_resolved, c.settings,
                       c.secret_fingerprints, c.sealed_secrets, c.created_at AS c_created_at,
                       c.updated_at AS c_updated_at
                  FROM taken d
                  LEFT JOIN alert_channels c
                    ON c.tenant_id = d.tenant_id AND c.channel_id = d.channel_id
                 ORDER BY d.created_at, d.notification_id""",  # noqa: S608 - constant column list
            now,
            limit,
            sorted(skip_channels),
            now + lease,
        )
        claimed = []
        for row in rows:
            channel = None
            if row["kind"] is not None:
                channel = Channel(
                    tenant_id=row["tenant_id"],
                    channel_id=row["channel_id"],
                    name=row["name"],
                    kind=ChannelKind(row["kind"]),
                    send_resolved=row["send_resolved"],
                    settings=json.loads(row["settings"]),
                    secret_fingerprints=json.loads(row["secret_fingerprints"]),
                    created_at=row["c_created_at"],
                    updated_at=row["c_updated_at"],
                )
            claimed.append(Claimed(_delivery(row), channel, row["sealed_secrets"]))
        return claimed

    async def finish(self, delivery: Delivery) -> None:
        await self._conn.execute(
            """INSERT INTO alert_deliveries (tenant_id, notification_id, channel_id,
                   notification, state, attempts, error, status_code, lease_until, created_at,
                   finished_at)
               VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, $11)
               ON CONFLICT (tenant_id, notification_id) DO UPDATE SET state = EXCLUDED.state,
                   attempts = EXCLUDED.attempts, error = EXCLUDED.error,
                   status_code = EXCLUDED.status_code, lease_until = EXCLUDED.lease_until,
                   finished_at = EXCLUDED.finished_at""",
            delivery.tenant_id,
            delivery.notification_id,
            delivery.channel_id,
            json.dumps(notification_json(delivery.notification)),
            delivery.state.value,
            delivery.attempts,
            delivery.error,
            delivery.status_code,
            delivery.lease_until,
            delivery.notification.created_at,
            delivery.finished_at,
        )

    async def latest(self, tenant_id: str, *, limit: int, channel_id: str = "") -> list[Delivery]:
        rows = await self._conn.fetch(
            f"""SELECT {_DELIVERY} FROM alert_deliveries d
                WHERE d.tenant_id = $1 AND ($3 = '' OR d.channel_id = $3)
                ORDER BY d.created_at DESC, d.notification_id LIMIT $2""",  # noqa: S608 - constant column list
            tenant_id,
            limit,
            channel_id,
        )
        return [_delivery(r) for r in rows]
