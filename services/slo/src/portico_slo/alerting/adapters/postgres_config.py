"""PostgreSQL repositories of what tenants configure: channels, routing trees, silences."""

from __future__ import annotations

import json

import asyncpg

from portico_common.db import Connection
from portico_slo.alerting.adapters.codec import (
    matchers_json,
    matchers_of,
    route_json,
    route_of,
    rules_json,
    rules_of,
)
from portico_slo.alerting.app.ports import RoutingRecord
from portico_slo.alerting.domain.channels import Channel, ChannelKind
from portico_slo.alerting.domain.silences import Silence

_CHANNEL = """tenant_id, channel_id, name, kind, send_resolved, settings, secret_fingerprints,
    created_at, updated_at"""


def _channel(row: asyncpg.Record) -> Channel:
    return Channel(
        tenant_id=row["tenant_id"],
        channel_id=row["channel_id"],
        name=row["name"],
        kind=ChannelKind(row["kind"]),
        send_resolved=row["send_resolved"],
        settings=json.loads(row["settings"]),
        secret_fingerprints=json.loads(row["secret_fingerprints"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class PgChannels:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, channel: Channel, sealed_secrets: bytes) -> bool:
        inserted = await self._conn.fetchval(
            """INSERT INTO alert_channels (tenant_id, channel_id, name, kind, send_resolved,
                   settings, secret_fingerprints, sealed_secrets, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10)
               ON CONFLICT (tenant_id, name) DO NOTHING RETURNING true""",
            channel.tenant_id,
            channel.channel_id,
            channel.name,
            channel.kind.value,
            channel.send_resolved,
            json.dumps(dict(channel.settings)),
            json.dumps(dict(channel.secret_fingerprints)),
            sealed_secrets,
            channel.created_at,
            channel.updated_at,
        )
        return bool(inserted)

    async def get(self, tenant_id: str, channel_id: str) -> Channel | None:
        row = await self._conn.fetchrow(
            f"SELECT {_CHANNEL} FROM alert_channels WHERE tenant_id = $1 AND channel_id = $2",  # noqa: S608 - constant column list
            tenant_id,
            channel_id,
        )
        return None if row is None else _channel(row)

    async def by_name(self, tenant_id: str, name: str) -> Channel | None:
        row = await self._conn.fetchrow(
            f"SELECT {_CHANNEL} FROM alert_channels WHERE tenant_id = $1 AND name = $2",  # noqa: S608 - constant column list
            tenant_id,
            name,
        )
        return None if row is None else _channel(row)

    async def for_tenant(self, tenant_id: str) -> list[Channel]:
        rows = await self._conn.fetch(
            f"SELECT {_CHANNEL} FROM alert_channels WHERE tenant_id = $1 ORDER BY name",  # noqa: S608 - constant column list
            tenant_id,
        )
        return [_channel(r) for r in rows]

    async def update(self, channel: Channel, sealed_secrets: bytes) -> None:
        await self._conn.execute(
            """UPDATE alert_channels SET send_resolved = $3, settings = $4::jsonb,
                   secret_fingerprints = $5::jsonb, sealed_secrets = $6, updated_at = $7
               WHERE tenant_id = $1 AND channel_id = $2""",
            channel.tenant_id,
            channel.channel_id,
            channel.send_resolved,
            json.dumps(dict(channel.settings)),
            json.dumps(dict(channel.secret_fingerprints)),
            sealed_secrets,
            channel.updated_at,
        )

    async def delete(self, tenant_id: str, channel_id: str) -> bool:
        deleted = await self._conn.fetchval(
            """DELETE FROM alert_channels WHERE tenant_id = $1 AND channel_id = $2
               RETURNING true""",
            tenant_id,
            channel_id,
        )
        return bool(deleted)

    async def sealed_secrets(self, tenant_id: str, channel_id: str) -> bytes | None:
        sealed: bytes | None = await self._conn.fetchval(
            "SELECT sealed_secrets FROM alert_channels WHERE tenant_id = $1 AND channel_id = $2",
            tenant_id,
            channel_id,
        )
        return sealed


class PgRouting:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, tenant_id: str) -> RoutingRecord | None:
        row = await self._conn.fetchrow(
            """SELECT tenant_id, tree, inhibit_rules, default_inhibition_disabled, updated_at,
                      updated_by
                 FROM alert_routing WHERE tenant_id = $1""",
            tenant_id,
        )
        if row is None:
            return None
        return RoutingRecord(
            tenant_id=row["tenant_id"],
            root=route_of(json.loads(row["tree"])),
            inhibit_rules=rules_of(json.loads(row["inhibit_rules"])),
            default_inhibition_disabled=row["default_inhibition_disabled"],
            updated_at=row["updated_at"],
            updated_by=row["updated_by"],
        )

    async def put(self, record: RoutingRecord) -> None:
        await self._conn.execute(
            """INSERT INTO alert_routing (tenant_id, tree, inhibit_rules,
                   default_inhibition_disabled, updated_at, updated_by)
               VALUES ($1, $2::jsonb, $3::jsonb, $4, $5, $6)
               ON CONFLICT (tenant_id) DO UPDATE SET tree = EXCLUDED.tree,
                   inhibit_rules = EXCLUDED.inhibit_rules,
                   default_inhibition_disabled = EXCLUDED.default_inhibition_disabled,
                   updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by""",
            record.tenant_id,
            json.dumps(route_json(record.root)),
            json.dumps(rules_json(record.inhibit_rules)),
            record.default_inhibition_disabled,
            record.updated_at,
            record.updated_by,
        )

    async def delete(self, tenant_id: str) -> bool:
        deleted = await self._conn.fetchval(
            "DELETE FROM alert_routing WHERE tenant_id = $1 RETURNING true", tenant_id
        )
        return bool(deleted)


_SILENCE = "tenant_id, silence_id, matchers, starts_at, ends_at, created_by, comment, updated_at"


def _silence(row: asyncpg.Record) -> Silence:
    return Silence(
        silence_id=row["silence_id"],
        tenant_id=row["tenant_id"],
        matchers=matchers_of(json.loads(row["matchers"])),
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        created_by=row["created_by"],
        comment=row["comment"],
        updated_at=row["updated_at"],
    )


class PgSilences:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def save(self, silence: Silence) -> None:
        await self._conn.execute(
            """INSERT INTO alert_silences (tenant_id, silence_id, matchers, starts_at, ends_at,
                   created_by, comment, updated_at)
               VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8)
               ON CONFLICT (tenant_id, silence_id) DO UPDATE SET matchers = EXCLUDED.matchers,
                   starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at,
                   created_by = EXCLUDED.created_by, comment = EXCLUDED.comment,
                   updated_at = EXCLUDED.updated_at""",
            silence.tenant_id,
            silence.silence_id,
            json.dumps(matchers_json(silence.matchers)),
            silence.starts_at,
            silence.ends_at,
            silence.created_by,
            silence.comment,
            silence.updated_at,
        )

    async def get(self, tenant_id: str, silence_id: str) -> Silence | None:
        row = await self._conn.fetchrow(
            f"SELECT {_SILENCE} FROM alert_silences WHERE tenant_id = $1 AND silence_id = $2",  # noqa: S608 - constant column list
            tenant_id,
            silence_id,
        )
        return None if row is None else _silence(row)

    async def for_tenant(self, tenant_id: str) -> list[Silence]:
        rows = await self._conn.fetch(
            f"SELECT {_SILENCE} FROM alert_silences WHERE tenant_id = $1",  # noqa: S608 - constant column list
            tenant_id,
        )
        return [_silence(r) for r in rows]
