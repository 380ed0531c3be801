"""PostgreSQL repositories of the alerting engine's state: alerts, groups, the notification log."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import asyncpg

from portico_common.db import Connection
from portico_slo.alerting.adapters.codec import (
    alert_json,
    alert_of,
)
from portico_slo.alerting.app.ports import HistoryEntry
from portico_slo.alerting.domain.alerts import Alert, AlertStatus
from portico_slo.alerting.domain.groups import AlertGroup, LogEntry


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

    async def prune(self, before: datetime) -> int:
        removed = await self._conn.fetchval(
            """WITH alerts_gone AS (
                   DELETE FROM alerts WHERE ends_at < $1 RETURNING 1),
               history_gone AS (
                   DELETE FROM alert_history WHERE at < $1 RETURNING 1)
               SELECT (SELECT count(*) FROM alerts_gone) + (SELECT count(*) FROM history_gone)""",
            before,
        )
        return int(removed)


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

    async def prune(self, before: datetime) -> int:
        removed = await self._conn.fetchval(
            """WITH gone AS (DELETE FROM alert_nflog WHERE notified_at < $1 RETURNING 1)
               SELECT count(*) FROM gone""",
            before,
        )
        return int(removed)
