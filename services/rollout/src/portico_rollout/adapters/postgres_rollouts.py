"""The rollouts table in PostgreSQL: its JSON columns, the scheduler's queries."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from portico_common.db import Connection
from portico_rollout.domain.rollout import Rollout
from portico_rollout.errors import RolloutConflictError

# Every column `Rollout.to_row` fills, in one order; the JSON ones are cast on the way in.
_NAMES = (
    "rollout_id",
    "tenant_id",
    "plugin",
    "version",
    "stable_version",
    "state",
    "phases",
    "phase_index",
    "bake_seconds",
    "security_passed",
    "compat_passed",
    "reason",
    "created_at",
    "phase_started_at",
    "history",
    "revision",
    "strategy",
    "plan",
    "hold_timeout_seconds",
    "slo_id",
    "attempt",
    "retry_of",
    "paused_at",
    "next_check_at",
    "hold_until",
    "gate",
    "gate_phase",
    "decision_count",
    "stable_advisories",
    "rollback_step_seconds",
    "rolling_back",
    "slo_ok_at",
)
_JSON = frozenset({"history", "plan", "gate", "rolling_back"})
_COLUMNS = ", ".join(_NAMES)
_UNFINISHED = "('AWAITING_CHECKS', 'IN_PROGRESS', 'PAUSED', 'ROLLING_BACK')"


def _rollout(row: asyncpg.Record) -> Rollout:
    data = dict(row)
    for name in _JSON:
        if data[name] is not None:
            data[name] = json.loads(data[name])
    return Rollout.from_row(data)


def _values(rollout: Rollout) -> list[Any]:
    row = rollout.to_row()
    return [
        json.dumps(row[name]) if name in _JSON and row[name] is not None else row[name]
        for name in _NAMES
    ]


def _placeholders() -> str:
    return ", ".join(
        f"${i}::jsonb" if name in _JSON else f"${i}" for i, name in enumerate(_NAMES, start=1)
    )


_INSERT = f"""INSERT INTO rollouts ({_COLUMNS}, due_at)
              VALUES ({_placeholders()}, ${len(_NAMES) + 1})
              ON CONFLICT DO NOTHING RETURNING true"""  # noqa: S608 - constant column list
_UPDATE = (
    "UPDATE rollouts SET "  # noqa: S608 - constant column list
    + ", ".join(
        f"{name} = ${i}{'::jsonb' if name in _JSON else ''}"
        for i, name in enumerate(_NAMES, start=1)
        if name not in ("rollout_id", "revision")
    )
    + f", due_at = ${len(_NAMES) + 1}, revision = revision + 1"
    + f" WHERE rollout_id = $1 AND revision = ${_NAMES.index('revision') + 1}"
    + " RETURNING revision"
)


class PgRolloutRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def lock_plugin(self, tenant_id: str, plugin: str) -> None:
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            f"portico.rollout:{tenant_id}:{plugin}",
        )

    async def add(self, rollout: Rollout) -> bool:
        # No conflict target: the primary key and the one-unfinished-per-plugin
        # index both make a losing insert a no-op instead of an error.
        inserted = await self._conn.fetchval(_INSERT, *_values(rollout), rollout.due_at())
        return bool(inserted)

    async def get(self, tenant_id: str, rollout_id: str) -> Rollout | None:
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM rollouts WHERE tenant_id = $1 AND rollout_id = $2",  # noqa: S608 - constant column list
            tenant_id,
            rollout_id,
        )
        return None if row is None else _rollout(row)

    async def active_for(
        self, tenant_id: str, plugin: str, *, lock: bool = False
    ) -> Rollout | None:
        # FOR UPDATE waits for a scheduler or handler holding the row and then
        # re-reads it, so the caller acts on the state that committed last.
        row = await self._conn.fetchrow(
            f"""SELECT {_COLUMNS} FROM rollouts
                 WHERE tenant_id = $1 AND plugin = $2 AND state IN {_UNFINISHED}
                 {"FOR UPDATE" if lock else ""}""",  # noqa: S608 - constant fragments
            tenant_id,
            plugin,
        )
        return None if row is None else _rollout(row)

    async def save(self, rollout: Rollout) -> None:
        revision = await self._conn.fetchval(_UPDATE, *_values(rollout), rollout.due_at())
        if revision is None:
            raise RolloutConflictError(rollout.rollout_id, rollout.revision)
        rollout.revision = revision

    async def due(self, now: datetime, limit: int, per_tenant: int) -> list[tuple[str, str]]:
        rows = await self._conn.fetch(
            """SELECT tenant_id, rollout_id FROM (
                   SELECT tenant_id, rollout_id, due_at,
                          row_number() OVER (
                              PARTITION BY tenant_id ORDER BY due_at, rollout_id) AS n
                     FROM rollouts
                    WHERE due_at <= $1
                      AND NOT EXISTS (SELECT 1 FROM paused_tenants p
                                       WHERE p.tenant_id = rollouts.tenant_id)
               ) due
               WHERE n <= $3
               ORDER BY due_at, rollout_id
               LIMIT $2""",
            now,
            limit,
            per_tenant,
        )
        return [(r["tenant_id"], r["rollout_id"]) for r in rows]

    async def lock(self, tenant_id: str, rollout_id: str) -> Rollout | None:
        row = await self._conn.fetchrow(
            f"""SELECT {_COLUMNS} FROM rollouts WHERE tenant_id = $1 AND rollout_id = $2
                   FOR UPDATE SKIP LOCKED""",  # noqa: S608 - constant column list
            tenant_id,
            rollout_id,
        )
        return None if row is None else _rollout(row)

    async def defer(self, tenant_id: str, rollout_id: str, until: datetime) -> None:
        # Only the scan order changes: the next save writes due_at from the row again.
        await self._conn.execute(
            """UPDATE rollouts SET due_at = $3
                WHERE tenant_id = $1 AND rollout_id = $2 AND due_at IS NOT NULL""",
            tenant_id,
            rollout_id,
            until,
        )

    async def page(
        self,
        tenant_id: str,
        *,
        plugin: str,
        states: Sequence[str],
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Rollout]:
        after_at, after_id = after if after is not None else (None, "")
        rows = await self._conn.fetch(
            f"""SELECT {_COLUMNS} FROM rollouts
                 WHERE tenant_id = $1
                   AND ($2 = '' OR plugin = $2)
                   AND (cardinality($3::text[]) = 0 OR state = ANY($3::text[]))
                   AND ($4::timestamptz IS NULL OR (created_at, rollout_id) < ($4, $5))
                 ORDER BY created_at DESC, rollout_id DESC
                 LIMIT $6""",  # noqa: S608 - constant column list
            tenant_id,
            plugin,
            list(states),
            after_at,
            after_id,
            limit,
        )
        return [_rollout(row) for row in rows]

    async def serving(self, tenant_id: str) -> list[tuple[str, str, str]]:
        rows = await self._conn.fetch(
            """SELECT plugin, version, stable_version FROM rollouts
                WHERE tenant_id = $1 AND state IN ('IN_PROGRESS', 'PAUSED')
                ORDER BY plugin""",
            tenant_id,
        )
        return [(r["plugin"], r["version"], r["stable_version"]) for r in rows]
