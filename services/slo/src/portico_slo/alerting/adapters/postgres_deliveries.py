"""PostgreSQL delivery queue and log: notifications claimed under a lease, kept with outcomes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import asyncpg

from portico_common.db import Connection
from portico_slo.alerting.adapters.codec import notification_json, notification_of
from portico_slo.alerting.app.ports import Claimed
from portico_slo.alerting.domain.channels import Channel, ChannelKind
from portico_slo.alerting.domain.notifications import Delivery, DeliveryState

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
