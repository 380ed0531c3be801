"""PostgreSQL adapter of the data-key repository (tenant_key_rings, tenant_data_keys)."""

from __future__ import annotations

from typing import Any

from portico_common.db import Connection
from portico_tenancy.domain.keys import KeyRing, WrappedDataKey

_KEY_COLUMNS = "tenant_id, version, wrapped, kms, kek_version, created_at"
_RING = """SELECT tenant_id, primary_version, shredded_at, updated_at
             FROM tenant_key_rings WHERE tenant_id = $1"""
_LOCK_RING = _RING + " FOR UPDATE"


def _key(row: Any) -> WrappedDataKey:
    return WrappedDataKey(
        row["tenant_id"],
        row["version"],
        bytes(row["wrapped"]),
        row["kms"],
        row["kek_version"],
        row["created_at"],
    )


class PgDataKeyRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def ring(self, tenant_id: str, *, lock: bool = False) -> KeyRing | None:
        row = await self._conn.fetchrow(_LOCK_RING if lock else _RING, tenant_id)
        if row is None:
            return None
        return KeyRing(
            row["tenant_id"], row["primary_version"], row["shredded_at"], row["updated_at"]
        )

    async def create(self, ring: KeyRing, first: WrappedDataKey | None) -> bool:
        created = await self._conn.fetchval(
            """INSERT INTO tenant_key_rings (tenant_id, primary_version, shredded_at, updated_at)
               VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO NOTHING RETURNING true""",
            ring.tenant_id,
            ring.primary_version,
            ring.shredded_at,
            ring.updated_at,
        )
        if created and first is not None:
            await self._insert(first)
        return bool(created)

    async def keys(self, tenant_id: str) -> list[WrappedDataKey]:
        rows = await self._conn.fetch(
            f"SELECT {_KEY_COLUMNS} FROM tenant_data_keys WHERE tenant_id = $1 ORDER BY version",  # noqa: S608 - constant column list
            tenant_id,
        )
        return [_key(r) for r in rows]

    async def add(self, ring: KeyRing, key: WrappedDataKey) -> None:
        await self._insert(key)
        await self._save_ring(ring)

    async def shred(self, ring: KeyRing) -> int:
        deleted = await self._conn.fetch(
            "DELETE FROM tenant_data_keys WHERE tenant_id = $1 RETURNING version", ring.tenant_id
        )
        await self._save_ring(ring)
        return len(deleted)

    async def under_older_kek(self, kms: str, kek_version: int, limit: int) -> list[WrappedDataKey]:
        rows = await self._conn.fetch(
            f"""SELECT {_KEY_COLUMNS} FROM tenant_data_keys
                 WHERE kms = $1 AND kek_version < $2
                 ORDER BY tenant_id, version LIMIT $3 FOR UPDATE SKIP LOCKED""",  # noqa: S608
            kms,
            kek_version,
            limit,
        )
        return [_key(r) for r in rows]

    async def rewrapped(self, key: WrappedDataKey) -> None:
        await self._conn.execute(
            """UPDATE tenant_data_keys SET wrapped = $3, kms = $4, kek_version = $5
                WHERE tenant_id = $1 AND version = $2""",
            key.tenant_id,
            key.version,
            key.wrapped,
            key.kms,
            key.kek_version,
        )

    async def _insert(self, key: WrappedDataKey) -> None:
        await self._conn.execute(
            f"INSERT INTO tenant_data_keys ({_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)",  # noqa: S608
            key.tenant_id,
            key.version,
            key.wrapped,
            key.kms,
            key.kek_version,
            key.created_at,
        )

    async def _save_ring(self, ring: KeyRing) -> None:
        await self._conn.execute(
            """UPDATE tenant_key_rings SET primary_version = $2, shredded_at = $3, updated_at = $4
                WHERE tenant_id = $1""",
            ring.tenant_id,
            ring.primary_version,
            ring.shredded_at,
            ring.updated_at,
        )
