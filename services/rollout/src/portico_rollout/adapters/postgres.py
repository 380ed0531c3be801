"""PostgreSQL adapters of the rollout ports, on the unit of work's connection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime

import asyncpg

from portico_common.clock import Clock
from portico_common.db import Connection, Database
from portico_common.uow import PgUnitOfWork, uow_factory
from portico_rollout.adapters.messages import to_message
from portico_rollout.adapters.postgres_records import PgAuditRepository, PgDecisionRepository
from portico_rollout.adapters.postgres_rollouts import PgRolloutRepository
from portico_rollout.app.ports import UnitOfWorkFactory
from portico_rollout.domain.events import RolloutEvent
from portico_rollout.domain.saga import SagaStep, StepState
from portico_rollout.domain.verdicts import CheckVerdict
from portico_rollout.errors import InvalidRolloutError


class PgVerdictRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, verdict: CheckVerdict) -> bool:
        inserted = await self._conn.fetchval(
            """INSERT INTO check_verdicts
                   (tenant_id, event_id, plugin, version, kind, passed, reasons, at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (tenant_id, event_id) DO NOTHING RETURNING true""",
            verdict.tenant_id,
            verdict.event_id,
            verdict.plugin,
            verdict.version,
            verdict.kind,
            verdict.passed,
            list(verdict.reasons),
            verdict.at,
        )
        return bool(inserted)

    async def for_version(self, tenant_id: str, plugin: str, version: str) -> list[CheckVerdict]:
        rows = await self._conn.fetch(
            """SELECT tenant_id, event_id, plugin, version, kind, passed, reasons, at
                 FROM check_verdicts
                WHERE tenant_id = $1 AND plugin = $2 AND version = $3
                ORDER BY seq""",
            tenant_id,
            plugin,
            version,
        )
        return [
            CheckVerdict(
                tenant_id=r["tenant_id"],
                plugin=r["plugin"],
                version=r["version"],
                kind=r["kind"],
                passed=r["passed"],
                reasons=tuple(r["reasons"]),
                event_id=r["event_id"],
                at=r["at"],
            )
            for r in rows
        ]


class PgStableVersionRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, tenant_id: str, plugin: str) -> str:
        version = await self._conn.fetchval(
            "SELECT version FROM stable_versions WHERE tenant_id = $1 AND plugin = $2",
            tenant_id,
            plugin,
        )
        return str(version) if version is not None else ""

    async def set(
        self, tenant_id: str, plugin: str, version: str, rollout_id: str, at: datetime
    ) -> None:
        await self._conn.execute(
            """INSERT INTO stable_versions (tenant_id, plugin, version, rollout_id, since)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (tenant_id, plugin) DO UPDATE
                 SET version = EXCLUDED.version, rollout_id = EXCLUDED.rollout_id,
                     since = EXCLUDED.since""",
            tenant_id,
            plugin,
            version,
            rollout_id,
            at,
        )

    async def made_by(self, tenant_id: str, plugin: str) -> tuple[str, str] | None:
        row = await self._conn.fetchrow(
            "SELECT version, rollout_id FROM stable_versions WHERE tenant_id = $1 AND plugin = $2",
            tenant_id,
            plugin,
        )
        return None if row is None else (row["version"], row["rollout_id"])

    async def all(self, tenant_id: str) -> dict[str, str]:
        rows = await self._conn.fetch(
            "SELECT plugin, version FROM stable_versions WHERE tenant_id = $1", tenant_id
        )
        return {r["plugin"]: r["version"] for r in rows}


def _step(r: asyncpg.Record) -> SagaStep:
    try:
        state = StepState(r["state"])
    except ValueError as exc:  # pragma: no cover - the CHECK constraint prevents it
        raise InvalidRolloutError("saga step", f"unknown state {r['state']!r}") from exc
    return SagaStep(
        r["tenant_id"],
        r["rollout_id"],
        r["step"],
        r["ordinal"],
        state,
        r["detail"],
        r["at"],
        failed_attempts=r["failed_attempts"],
        next_attempt_at=r["next_attempt_at"],
        last_error=r["last_error"],
    )


class PgRollbackStepRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def start(
        self, tenant_id: str, rollout_id: str, steps: Sequence[str], at: datetime
    ) -> list[SagaStep]:
        # One statement: the rows it adds come back from RETURNING, the ones
        # already there from the table (the statement's snapshot predates its
        # own insert, so no row is listed twice).
        rows = await self._conn.fetch(
            """WITH added AS (
                   INSERT INTO rollback_steps (rollout_id, tenant_id, step, ordinal, state, at)
                   SELECT $2, $1, s.step, s.n - 1, 'pending', $4
                     FROM unnest($3::text[]) WITH ORDINALITY AS s(step, n)
                   ON CONFLICT (rollout_id, step) DO NOTHING
                   RETURNING tenant_id, rollout_id, step, ordinal, state, detail, at,
                             failed_attempts, next_attempt_at, last_error)
               SELECT * FROM added
               UNION ALL
               SELECT tenant_id, rollout_id, step, ordinal, state, detail, at,
                      failed_attempts, next_attempt_at, last_error
                 FROM rollback_steps WHERE tenant_id = $1 AND rollout_id = $2
               ORDER BY ordinal""",
            tenant_id,
            rollout_id,
            list(steps),
            at,
        )
        return [_step(r) for r in rows]

    async def complete(
        self, tenant_id: str, rollout_id: str, step: str, detail: str, at: datetime
    ) -> None:
        await self._conn.execute(
            """UPDATE rollback_steps SET state = 'done', detail = $4, at = $5
                WHERE tenant_id = $1 AND rollout_id = $2 AND step = $3 AND state <> 'done'""",
            tenant_id,
            rollout_id,
            step,
            detail,
            at,
        )

    async def for_rollout(self, tenant_id: str, rollout_id: str) -> list[SagaStep]:
        rows = await self._conn.fetch(
            """SELECT tenant_id, rollout_id, step, ordinal, state, detail, at,
                      failed_attempts, next_attempt_at, last_error
                 FROM rollback_steps
                WHERE tenant_id = $1 AND rollout_id = $2 ORDER BY ordinal""",
            tenant_id,
            rollout_id,
        )
        return [_step(r) for r in rows]

    async def record_failure(
        self,
        tenant_id: str,
        rollout_id: str,
        step: str,
        *,
        failed_attempts: int,
        next_attempt_at: datetime,
        error: str,
    ) -> bool:
        recorded = await self._conn.fetchval(
            """UPDATE rollback_steps
                  SET failed_attempts = $4, next_attempt_at = $5, last_error = $6
                WHERE tenant_id = $1 AND rollout_id = $2 AND step = $3
                  AND state = 'pending' AND failed_attempts = $4 - 1
               RETURNING true""",
            tenant_id,
            rollout_id,
            step,
            failed_attempts,
            next_attempt_at,
            error,
        )
        return bool(recorded)

    async def due(self, now: datetime, limit: int, per_tenant: int) -> list[tuple[str, str]]:
        rows = await self._conn.fetch(
            """SELECT tenant_id, rollout_id FROM (
                   SELECT tenant_id, rollout_id, ready_at,
                          row_number() OVER (
                              PARTITION BY tenant_id ORDER BY ready_at, rollout_id) AS round
                     FROM (SELECT DISTINCT ON (rollout_id) tenant_id, rollout_id,
                                  next_attempt_at, coalesce(next_attempt_at, at) AS ready_at
                             FROM rollback_steps WHERE state = 'pending'
                            ORDER BY rollout_id, ordinal) heads
                    WHERE next_attempt_at IS NULL OR next_attempt_at <= $1
               ) due
               WHERE round <= $3
               ORDER BY round, ready_at, tenant_id, rollout_id
               LIMIT $2""",
            now,
            limit,
            per_tenant,
        )
        return [(r["tenant_id"], r["rollout_id"]) for r in rows]


class PgPausedTenantRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def pause(self, tenant_id: str, state: str, at: datetime) -> None:
        await self._conn.execute(
            """INSERT INTO paused_tenants (tenant_id, state, paused_at) VALUES ($1, $2, $3)
               ON CONFLICT (tenant_id) DO UPDATE SET state = EXCLUDED.state""",
            tenant_id,
            state,
            at,
        )

    async def unpause(self, tenant_id: str) -> None:
        await self._conn.execute("DELETE FROM paused_tenants WHERE tenant_id = $1", tenant_id)

    async def is_paused(self, tenant_id: str) -> bool:
        found = await self._conn.fetchval(
            "SELECT true FROM paused_tenants WHERE tenant_id = $1", tenant_id
        )
        return bool(found)


class RolloutPgUnitOfWork(PgUnitOfWork):
    """The tenant transaction with rollout's repositories; events go to the outbox."""

    def __init__(self, conn: Connection, *, tenant_id: str, clock: Clock) -> None:
        super().__init__(conn, source="portico/rollout", tenant_id=tenant_id, clock=clock)
        self.rollouts = PgRolloutRepository(conn)
        self.verdicts = PgVerdictRepository(conn)
        self.stable_versions = PgStableVersionRepository(conn)
        self.rollback_steps = PgRollbackStepRepository(conn)
        self.paused_tenants = PgPausedTenantRepository(conn)
        self.decisions = PgDecisionRepository(conn)
        self.audit = PgAuditRepository(conn)

    async def publish(self, events: Sequence[RolloutEvent]) -> None:
        await self.emit_all([(to_message(event), event.subject) for event in events])


def pg_uow_factory(db: Database, clock: Clock) -> UnitOfWorkFactory:
    """Units of work that each open (and commit) their own tenant transaction."""
    return uow_factory(
        db, lambda conn, tenant: RolloutPgUnitOfWork(conn, tenant_id=tenant, clock=clock)
    )


def pg_consumer_uow(
    clock: Clock,
) -> Callable[[Connection, str], AbstractAsyncContextManager[RolloutPgUnitOfWork]]:
    """Units of work on an event consumer's transaction, which commits with the inbox row."""

    @asynccontextmanager
    async def within(conn: Connection, tenant_id: str) -> AsyncIterator[RolloutPgUnitOfWork]:
        yield RolloutPgUnitOfWork(conn, tenant_id=tenant_id, clock=clock)

    return within
