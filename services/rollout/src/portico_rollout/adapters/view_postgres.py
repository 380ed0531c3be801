"""Assignments read back from PostgreSQL: the source the in-memory view is built from.

Both reads are one statement each, across tenants (the platform scope, as
the scheduler's): a plugin's unfinished rollout, if any, next to its
stable-version row. Rollouts are rebuilt by the domain (`Rollout.from_row`),
so the share a canary serves is computed by the same code that moves it.
"""

from __future__ import annotations

from collections.abc import Collection

import asyncpg

from portico_common.db import Database
from portico_rollout.adapters.postgres_rollouts import _COLUMNS, _UNFINISHED, _rollout
from portico_rollout.domain.assignment import Assignment, PluginKey

_PREFIXED = ", ".join(f"r.{column.strip()}" for column in _COLUMNS.split(","))

# One row per plugin: its stable version (if any) and its unfinished rollout (if any).
_SELECT = f"""
    SELECT k.tenant_id AS key_tenant, k.plugin AS key_plugin, s.version AS stable,
           r.rollout_id IS NOT NULL AS has_rollout, {_PREFIXED}
      FROM keys k
      LEFT JOIN stable_versions s ON s.tenant_id = k.tenant_id AND s.plugin = k.plugin
      LEFT JOIN rollouts r ON r.tenant_id = k.tenant_id AND r.plugin = k.plugin
                          AND r.state IN {_UNFINISHED}
"""  # noqa: S608 - constant fragments

_ALL = f"""
    WITH keys AS (
        SELECT tenant_id, plugin FROM stable_versions
         UNION
        SELECT tenant_id, plugin FROM rollouts WHERE state IN {_UNFINISHED}
    ) {_SELECT}
"""  # noqa: S608 - constant fragments

_SOME = f"""
    WITH keys AS (SELECT * FROM unnest($1::text[], $2::text[]) AS k(tenant_id, plugin))
    {_SELECT}
"""  # noqa: S608 - constant fragments


class PgAssignmentReader:
    """The AssignmentReader on rollout's schema."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def all(self) -> list[Assignment]:
        rows: list[asyncpg.Record] = []
        # Every place: the shared tables, then each bridge schema and silo database.
        for place in await self._db.places():
            async with self._db.platform_transaction(place) as conn:
                rows += await conn.fetch(_ALL)
        return [_assignment(row) for row in rows]

    async def of(self, keys: Collection[PluginKey]) -> list[Assignment]:
        if not keys:
            return []
        tenants, plugins = zip(*keys, strict=True)
        rows: list[asyncpg.Record] = []
        for place in await self._db.places():
            async with self._db.platform_transaction(place) as conn:
                rows += await conn.fetch(_SOME, list(tenants), list(plugins))
        found = [_assignment(row) for row in rows]
        return [a for a in found if a != Assignment(*a.key)]


def _assignment(row: asyncpg.Record) -> Assignment:
    rollout = None
    if row["has_rollout"]:
        rollout = _rollout(row)
    return Assignment.of(row["key_tenant"], row["key_plugin"], rollout, row["stable"] or "")
