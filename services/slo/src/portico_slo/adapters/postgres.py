"""PostgreSQL adapters of the slo ports.

The window sums mirror `portico_slo.domain.buckets` (see its docstring), with
`high` the key of the bucket `now` falls in:

    WHERE bucket > high - window AND bucket <= high
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import asyncpg

from portico_common.clock import Clock
from portico_common.db import Connection, Database
from portico_common.uow import PgUnitOfWork, uow_factory
from portico_slo.adapters.messages import to_message
from portico_slo.app.ports import SloRecord, UnitOfWorkFactory
from portico_slo.domain.buckets import bucket_key
from portico_slo.domain.burn_rate import Counts
from portico_slo.domain.events import SloEvent
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.slo import SloState, SloStatus

_COLUMNS = """slo_id, tenant_id, plugin, version, objective, window_seconds,
    latency_threshold_ms, burn_rate_threshold, short_window_seconds, long_window_seconds,
    min_events, bucket_seconds, state, violated_at, short_window_burn_rate,
    long_window_burn_rate, evaluated_at, created_at"""


def _record(row: asyncpg.Record) -> SloRecord:
    # Constructing the definition validates the row as well.
    definition = SloDefinition(
        slo_id=row["slo_id"],
        tenant_id=row["tenant_id"],
        plugin=row["plugin"],
        version=row["version"],
        objective=row["objective"],
        window_seconds=row["window_seconds"],
        latency_threshold_ms=row["latency_threshold_ms"],
        burn_rate_threshold=row["burn_rate_threshold"],
        short_window_seconds=row["short_window_seconds"],
        long_window_seconds=row["long_window_seconds"],
        min_events=row["min_events"],
    )
    return SloRecord(
        definition=definition,
        status=SloStatus(
            slo_id=definition.slo_id,
            state=SloState(row["state"]),
            violated_at=row["violated_at"],
        ),
        bucket_seconds=row["bucket_seconds"],
        created_at=row["created_at"],
        short_window_burn_rate=row["short_window_burn_rate"],
        long_window_burn_rate=row["long_window_burn_rate"],
        evaluated_at=row["evaluated_at"],
    )


def _counts(row: asyncpg.Record, prefix: str) -> Counts:
    # sum(bigint) is numeric, which asyncpg returns as Decimal.
    return Counts(good=int(row[f"{prefix}_good"]), bad=int(row[f"{prefix}_bad"]))


class PgSloRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, slo: SloRecord) -> bool:
        d = slo.definition
        inserted = await self._conn.fetchval(
            """INSERT INTO slos (slo_id, tenant_id, plugin, version, objective, window_seconds,
                   latency_threshold_ms, burn_rate_threshold, short_window_seconds,
                   long_window_seconds, min_events, bucket_seconds, state, violated_at,
                   short_window_burn_rate, long_window_burn_rate, evaluated_at, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                       $17, $18)
               ON CONFLICT (tenant_id, plugin, version) DO NOTHING RETURNING true""",
            d.slo_id,
            d.tenant_id,
            d.plugin,
            d.version,
            d.objective,
            d.window_seconds,
            d.latency_threshold_ms,
            d.burn_rate_threshold,
            d.short_window_seconds,
            d.long_window_seconds,
            d.min_events,
            slo.bucket_seconds,
            slo.status.state.value,
            slo.status.violated_at,
            slo.short_window_burn_rate,
            slo.long_window_burn_rate,
            slo.evaluated_at,
            slo.created_at,
        )
        return bool(inserted)

    async def get(self, tenant_id: str, slo_id: str) -> SloRecord | None:
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM slos WHERE tenant_id = $1 AND slo_id = $2",  # noqa: S608 - constant column list
            tenant_id,
            slo_id,
        )
        return None if row is None else _record(row)

    async def find(self, tenant_id: str, plugin: str, version: str) -> SloRecord | None:
        row = await self._conn.fetchrow(
            f"""SELECT {_COLUMNS} FROM slos
                WHERE tenant_id = $1 AND plugin = $2 AND version = $3""",  # noqa: S608 - constant column list
            tenant_id,
            plugin,
            version,
        )
        return None if row is None else _record(row)

    async def lock(self, tenant_id: str, plugin: str, version: str) -> SloRecord | None:
        row = await self._conn.fetchrow(
            f"""SELECT {_COLUMNS} FROM slos
                WHERE tenant_id = $1 AND plugin = $2 AND version = $3
                FOR UPDATE""",  # noqa: S608 - constant column list
            tenant_id,
            plugin,
            version,
        )
        return None if row is None else _record(row)

    async def save(self, slo: SloRecord) -> None:
        await self._conn.execute(
            """UPDATE slos SET state = $2, violated_at = $3, short_window_burn_rate = $4,
                   long_window_burn_rate = $5, evaluated_at = $6
               WHERE slo_id = $1""",
            slo.slo_id,
            slo.status.state.value,
            slo.status.violated_at,
            slo.short_window_burn_rate,
            slo.long_window_burn_rate,
            slo.evaluated_at,
        )


class PgOutcomeBuckets:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, tenant_id: str, slo_id: str, counts: Mapping[int, Counts]) -> None:
        keys = sorted(counts)  # a fixed order, so concurrent upserts lock rows alike
        await self._conn.execute(
            """INSERT INTO outcome_buckets (slo_id, tenant_id, bucket, good, bad)
               SELECT $1, $2, b.bucket, b.good, b.bad
                 FROM unnest($3::bigint[], $4::bigint[], $5::bigint[]) AS b (bucket, good, bad)
               ON CONFLICT (slo_id, bucket) DO UPDATE
                 SET good = outcome_buckets.good + EXCLUDED.good,
                     bad = outcome_buckets.bad + EXCLUDED.bad""",
            slo_id,
            tenant_id,
            keys,
            [counts[k].good for k in keys],
            [counts[k].bad for k in keys],
        )

    async def window_counts(self, slo: SloRecord, now: datetime) -> tuple[Counts, Counts]:
        d = slo.definition
        row = await self._conn.fetchrow(
            """SELECT coalesce(sum(good) FILTER (WHERE bucket > $2::bigint - $3::bigint), 0)
                          AS short_good,
                      coalesce(sum(bad) FILTER (WHERE bucket > $2::bigint - $3::bigint), 0)
                          AS short_bad,
                      coalesce(sum(good), 0) AS long_good,
                      coalesce(sum(bad), 0) AS long_bad
                 FROM outcome_buckets
                WHERE slo_id = $1 AND bucket > $2::bigint - $4::bigint AND bucket <= $2::bigint""",
            slo.slo_id,
            bucket_key(now, slo.bucket_seconds),
            d.short_window_seconds,
            d.long_window_seconds,
        )
        assert row is not None  # noqa: S101 - an aggregate always returns one row
        return _counts(row, "short"), _counts(row, "long")

    async def all_window_counts(self, now: datetime) -> list[tuple[SloRecord, Counts, Counts]]:
        # `$1 / bucket_seconds * bucket_seconds` is bucket_key for a positive epoch second.
        rows = await self._conn.fetch(
            f"""SELECT {_prefixed("s")},
                      coalesce(sum(b.good) FILTER (
                          WHERE b.bucket > h.high - s.short_window_seconds), 0) AS short_good,
                      coalesce(sum(b.bad) FILTER (
                          WHERE b.bucket > h.high - s.short_window_seconds), 0) AS short_bad,
                      coalesce(sum(b.good), 0) AS long_good,
                      coalesce(sum(b.bad), 0) AS long_bad
                 FROM slos s
                 CROSS JOIN LATERAL (
                     SELECT $1::bigint / s.bucket_seconds * s.bucket_seconds AS high) h
                 LEFT JOIN outcome_buckets b
                   ON b.slo_id = s.slo_id
                  AND b.bucket > h.high - s.long_window_seconds AND b.bucket <= h.high
                GROUP BY s.slo_id, h.high
                ORDER BY s.slo_id""",  # noqa: S608 - constant column list
            bucket_key(now),
        )
        return [(_record(r), _counts(r, "short"), _counts(r, "long")) for r in rows]

    async def prune(self, now: datetime) -> int:
        deleted = await self._conn.fetchval(
            """WITH gone AS (
                   DELETE FROM outcome_buckets b USING slos s
                    WHERE b.slo_id = s.slo_id
                      AND b.bucket <= $1::bigint / s.bucket_seconds * s.bucket_seconds
                                      - s.long_window_seconds
                   RETURNING 1)
               SELECT count(*) FROM gone""",
            bucket_key(now),
        )
        return int(deleted)


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in _COLUMNS.split(","))


class SloPgUnitOfWork(PgUnitOfWork):
    """The tenant transaction with slo's repositories; events go to the outbox."""

    def __init__(self, conn: Connection, *, tenant_id: str, clock: Clock) -> None:
        super().__init__(conn, source="portico/slo", tenant_id=tenant_id, clock=clock)
        self._slos = PgSloRepository(conn)
        self._buckets = PgOutcomeBuckets(conn)

    @property
    def slos(self) -> PgSloRepository:
        return self._slos

    @property
    def buckets(self) -> PgOutcomeBuckets:
        return self._buckets

    async def publish(self, events: Sequence[SloEvent]) -> None:
        for event in events:
            await self.emit(to_message(event), subject=event.slo_id)


def pg_uow_factory(db: Database, clock: Clock) -> UnitOfWorkFactory:
    """Units of work that each open (and commit) their own tenant transaction."""
    return uow_factory(
        db, lambda conn, tenant: SloPgUnitOfWork(conn, tenant_id=tenant, clock=clock)
    )
