"""PostgreSQL adapters of the slo ports: SLOs, and the unit of work that holds them all.

Buckets are in `postgres_buckets`, violations and templates in
`postgres_records`. JSON columns travel as text and are parsed here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from portico_common.clock import Clock
from portico_common.db import Connection, Database
from portico_common.uow import PgUnitOfWork, uow_factory
from portico_slo.adapters.breakers_postgres import PgBreakers
from portico_slo.adapters.messages import to_message
from portico_slo.adapters.postgres_buckets import PgOutcomeBuckets
from portico_slo.adapters.postgres_records import PgTemplates, PgViolationLog
from portico_slo.adapters.postgres_version_outcomes import PgVersionOutcomes
from portico_slo.adapters.spec_json import definition_json, definition_of
from portico_slo.app.ports import SloFilter, SloRecord, TierBurn, UnitOfWorkFactory
from portico_slo.domain.events import SloEvent
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.slo import ActiveTier, SloState, SloStatus, TierState

COLUMNS = """slo_id, tenant_id, plugin, version, objective, window_seconds,
    latency_threshold_ms, burn_rate_threshold, short_window_seconds, long_window_seconds,
    min_events, bucket_seconds, state, violated_at, short_window_burn_rate,
    long_window_burn_rate, evaluated_at, created_at, name, spec, tier_states, tier_burns,
    refused_outcomes, pulled_until"""


def record(row: asyncpg.Record) -> SloRecord:
    """A row as an SloRecord; constructing the definition validates it as well."""
    if row["spec"] is None:
        # A row from before specs: the classic single rule of its columns.
        definition = SloDefinition.with_defaults(
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
    else:
        definition = _definition(row["slo_id"], row["tenant_id"], row["spec"])
    return SloRecord(
        definition=definition,
        status=SloStatus(
            slo_id=definition.slo_id,
            state=SloState(row["state"]),
            violated_at=row["violated_at"],
            tiers=_tiers_of(json.loads(row["tier_states"])),
        ),
        bucket_seconds=row["bucket_seconds"],
        created_at=row["created_at"],
        short_window_burn_rate=row["short_window_burn_rate"],
        long_window_burn_rate=row["long_window_burn_rate"],
        evaluated_at=row["evaluated_at"],
        tier_burns=tuple(
            TierBurn(b["tier"], b["short"], b["long"]) for b in json.loads(row["tier_burns"])
        ),
        refused_outcomes=row["refused_outcomes"],
        pulled_until=row["pulled_until"],
    )


# Definitions read back by their stored spec: the evaluator's tick reads every
# SLO, and parsing and validating a spec costs more than the sums of its
# windows. A spec is immutable text, so the parsed definition is reused.
_DEFINITIONS: dict[tuple[str, str, str], SloDefinition] = {}
_MAX_DEFINITIONS = 100_000


def _definition(slo_id: str, tenant_id: str, spec: str) -> SloDefinition:
    key = (slo_id, tenant_id, spec)
    found = _DEFINITIONS.get(key)
    if found is None:
        if len(_DEFINITIONS) >= _MAX_DEFINITIONS:
            _DEFINITIONS.clear()
        found = _DEFINITIONS[key] = definition_of(slo_id, tenant_id, json.loads(spec))
    return found


def _tiers_json(tiers: dict[str, ActiveTier]) -> str:
    return json.dumps(
        {
            name: {
                "state": t.state.value,
                "since": t.since.isoformat(),
                "violation_id": t.violation_id,
            }
            for name, t in tiers.items()
        }
    )


def _tiers_of(doc: dict[str, Any]) -> dict[str, ActiveTier]:
    return {
        name: ActiveTier(
            TierState(t["state"]), datetime.fromisoformat(t["since"]), t["violation_id"]
        )
        for name, t in doc.items()
    }


def _burns_json(burns: Sequence[TierBurn]) -> str:
    return json.dumps([{"tier": b.tier, "short": b.short_burn, "long": b.long_burn} for b in burns])


class PgSloRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, slo: SloRecord) -> bool:
        d = slo.definition
        inserted = await self._conn.fetchval(
            """INSERT INTO slos (slo_id, tenant_id, plugin, version, objective, window_seconds,
                   latency_threshold_ms, burn_rate_threshold, short_window_seconds,
                   long_window_seconds, min_events, bucket_seconds, state, violated_at,
                   short_window_burn_rate, long_window_burn_rate, evaluated_at, created_at,
                   name, scope_kind, rollout_id, spec, windows, timeslice_target, tier_states,
                   tier_burns, refused_outcomes, pulled, pulled_until)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                       $17, $18, $19, $20, $21, $22::jsonb, $23, $24, $25::jsonb, $26::jsonb,
                       $27, $28, $29)
               ON CONFLICT (tenant_id, name) DO NOTHING RETURNING true""",
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
            d.name,
            d.scope.kind.value,
            d.scope.rollout_id,
            json.dumps(definition_json(d)),
            list(d.alerting.windows),
            d.timeslice_target,
            _tiers_json(slo.status.tiers),
            _burns_json(slo.tier_burns),
            slo.refused_outcomes,
            d.indicator.pulled,
            slo.pulled_until,
        )
        return bool(inserted)

    async def _one(self, where: str, *args: object) -> SloRecord | None:
        row = await self._conn.fetchrow(f"SELECT {COLUMNS} FROM slos WHERE {where}", *args)  # noqa: S608 - constant column list and clauses
        return None if row is None else record(row)

    async def get(self, tenant_id: str, slo_id: str) -> SloRecord | None:
        return await self._one("tenant_id = $1 AND slo_id = $2", tenant_id, slo_id)

    async def by_name(self, tenant_id: str, name: str) -> SloRecord | None:
        return await self._one("tenant_id = $1 AND name = $2", tenant_id, name)

    async def lock(self, tenant_id: str, slo_id: str) -> SloRecord | None:
        return await self._one("tenant_id = $1 AND slo_id = $2 FOR UPDATE", tenant_id, slo_id)

    async def matching(
        self, tenant_id: str, plugin: str, version: str, rollout_id: str = "", *, lock: bool
    ) -> list[SloRecord]:
        rows = await self._conn.fetch(
            f"""SELECT {COLUMNS} FROM slos
                WHERE tenant_id = $1 AND plugin = $2
                  AND (scope_kind = 'plugin'
                       OR (version = $3 AND (scope_kind = 'version' OR rollout_id = $4)))
                ORDER BY slo_id {"FOR UPDATE" if lock else ""}""",  # noqa: S608 - constant column list
            tenant_id,
            plugin,
            version,
            rollout_id,
        )
        return [record(r) for r in rows]

    async def page(
        self, tenant_id: str, where: SloFilter, *, after: str, limit: int
    ) -> list[SloRecord]:
        rows = await self._conn.fetch(
            f"""SELECT {COLUMNS} FROM slos
                WHERE tenant_id = $1 AND name > $2
                  AND ($3 = '' OR plugin = $3) AND ($4 = '' OR version = $4)
                  AND ($5 = '' OR scope_kind = $5) AND (NOT $6 OR state = 'VIOLATED')
                  AND starts_with(name, $7)
                ORDER BY name LIMIT $8""",  # noqa: S608 - constant column list
            tenant_id,
            after,
            where.plugin,
            where.version,
            where.scope.value if where.scope else "",
            where.violated_only,
            where.name_prefix,
            limit,
        )
        return [record(r) for r in rows]

    async def save(self, slo: SloRecord) -> None:
        await self._conn.execute(
            """UPDATE slos SET state = $2, violated_at = $3, short_window_burn_rate = $4,
                   long_window_burn_rate = $5, evaluated_at = $6, tier_states = $7::jsonb,
                   tier_burns = $8::jsonb
               WHERE slo_id = $1""",
            slo.slo_id,
            slo.status.state.value,
            slo.status.violated_at,
            slo.short_window_burn_rate,
            slo.long_window_burn_rate,
            slo.evaluated_at,
            _tiers_json(slo.status.tiers),
            _burns_json(slo.tier_burns),
        )

    async def update(self, slo: SloRecord) -> None:
        d = slo.definition
        await self._conn.execute(
            """UPDATE slos SET objective = $2, window_seconds = $3, latency_threshold_ms = $4,
                   burn_rate_threshold = $5, short_window_seconds = $6,
                   long_window_seconds = $7, min_events = $8, name = $9, spec = $10::jsonb,
                   windows = $11, timeslice_target = $12, pulled = $13
               WHERE slo_id = $1""",
            slo.slo_id,
            d.objective,
            d.window_seconds,
            d.latency_threshold_ms,
            d.burn_rate_threshold,
            d.short_window_seconds,
            d.long_window_seconds,
            d.min_events,
            d.name,
            json.dumps(definition_json(d)),
            list(d.alerting.windows),
            d.timeslice_target,
            d.indicator.pulled,
        )

    async def delete(self, tenant_id: str, slo_id: str) -> bool:
        deleted = await self._conn.fetchval(
            "DELETE FROM slos WHERE tenant_id = $1 AND slo_id = $2 RETURNING true",
            tenant_id,
            slo_id,
        )
        return bool(deleted)

    async def count_refused(self, tenant_id: str, slo_id: str, refused: int) -> None:
        await self._conn.execute(
            """UPDATE slos SET refused_outcomes = refused_outcomes + $3
               WHERE tenant_id = $1 AND slo_id = $2""",
            tenant_id,
            slo_id,
            refused,
        )

    async def set_pulled(self, tenant_id: str, slo_id: str, until: datetime) -> None:
        await self._conn.execute(
            "UPDATE slos SET pulled_until = $3 WHERE tenant_id = $1 AND slo_id = $2",
            tenant_id,
            slo_id,
            until,
        )

    async def pulled(self) -> list[SloRecord]:
        rows = await self._conn.fetch(
            f"SELECT {COLUMNS} FROM slos WHERE pulled ORDER BY slo_id"  # noqa: S608 - constant column list
        )
        return [record(r) for r in rows]


class SloPgUnitOfWork(PgUnitOfWork):
    """The tenant transaction with slo's repositories; events go to the outbox."""

    def __init__(self, conn: Connection, *, tenant_id: str, clock: Clock) -> None:
        super().__init__(conn, source="portico/slo", tenant_id=tenant_id, clock=clock)
        self._slos = PgSloRepository(conn)
        self._buckets = PgOutcomeBuckets(conn, record, COLUMNS)
        self._violations = PgViolationLog(conn)
        self._templates = PgTemplates(conn)
        self._version_outcomes = PgVersionOutcomes(conn)
        self._breakers = PgBreakers(conn, self)

    @property
    def slos(self) -> PgSloRepository:
        return self._slos

    @property
    def buckets(self) -> PgOutcomeBuckets:
        return self._buckets

    @property
    def violations(self) -> PgViolationLog:
        return self._violations

    @property
    def templates(self) -> PgTemplates:
        return self._templates

    @property
    def version_outcomes(self) -> PgVersionOutcomes:
        return self._version_outcomes

    @property
    def breakers(self) -> PgBreakers:
        return self._breakers

    async def publish(self, events: Sequence[SloEvent]) -> None:
        for event in events:
            await self.emit(to_message(event), subject=event.slo_id)


def pg_uow_factory(db: Database, clock: Clock) -> UnitOfWorkFactory:
    """Units of work that each open (and commit) their own tenant transaction."""
    return uow_factory(
        db, lambda conn, tenant: SloPgUnitOfWork(conn, tenant_id=tenant, clock=clock)
    )
