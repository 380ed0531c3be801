"""PostgreSQL adapter of the job repository: tenancy's `jobs` rows plus pgqueuer's queue.

A job is two rows written in the caller's transaction: the tenant-scoped
`jobs` row (what the API shows) and a pgqueuer row carrying its id (what a
worker picks). pgqueuer's queries run on the same connection through its
asyncpg driver, so the enqueue commits or rolls back with the change that
caused it. One live queue row per job at most: its dedupe key is the job id.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, cast

import asyncpg
from pgqueuer import Queries
from pgqueuer.adapters.drivers.asyncpg import AsyncpgDriver
from pgqueuer.adapters.persistence.qb import (
    QueryBuilderEnvironment,
    QueryQueueBuilder,
    QuerySchedulerBuilder,
)
from pgqueuer.domain.settings import DBSettings
from pgqueuer.domain.types import JobId
from pgqueuer.ports.driver import Driver

from portico_common.db import Connection
from portico_tenancy.app.job_ports import JobPage
from portico_tenancy.domain.jobs import CANCELLABLE, HOLDS_LATER_JOBS, Job, JobState
from portico_tenancy.errors import JobStateError

# pgqueuer's entrypoint for every tenancy job: the payload names the job row.
ENTRYPOINT = "portico.tenancy.job"
# Database-global NOTIFY channel, so another pgqueuer on the database never wakes on ours.
CHANNEL = "portico_tenancy_jobs"

_COLUMNS = """job_id, tenant_id, kind, payload, ordered, state, attempts, max_attempts,
              last_error, run_after, created_at, updated_at, finished_at"""


def queue_settings() -> DBSettings:
    """pgqueuer's object names as migration 0020 made them (not read from PGQUEUER_* env)."""
    return DBSettings(prefix="", channel=CHANNEL, db_schema=None)


def queries(driver: Driver) -> Queries:
    """pgqueuer's queries through a driver (a transaction's connection, or the worker's pool)."""
    settings = queue_settings()
    return Queries(
        driver,
        qbe=QueryBuilderEnvironment(settings),
        qbq=QueryQueueBuilder(settings),
        qbs=QuerySchedulerBuilder(settings),
    )


def queue_payload(job: Job) -> bytes:
    return json.dumps({"job_id": job.job_id, "tenant_id": job.tenant_id}).encode()


def dedupe_key(job_id: int) -> str:
    return f"tenancy-job-{job_id}"


def _job(row: Any) -> Job:
    payload = row["payload"]
    return Job(
        job_id=row["job_id"],
        tenant_id=row["tenant_id"],
        kind=row["kind"],
        payload=json.loads(payload) if isinstance(payload, str) else payload,
        ordered=row["ordered"],
        state=JobState(row["state"]),
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        last_error=row["last_error"],
        run_after=row["run_after"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
    )


class PgJobRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def add(self, job: Job) -> Job:
        job_id = await self._conn.fetchval(
            """INSERT INTO jobs (tenant_id, kind, payload, ordered, state, attempts,
                                 max_attempts, last_error, run_after, created_at, updated_at)
               VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9, $10, $11)
               RETURNING job_id""",
            job.tenant_id,
            job.kind,
            json.dumps(dict(job.payload)),
            job.ordered,
            job.state.value,
            job.attempts,
            job.max_attempts,
            job.last_error,
            job.run_after,
            job.created_at,
            job.updated_at,
        )
        stored = replace(job, job_id=int(job_id))
        await self._enqueue(stored)
        return stored

    async def get(self, job_id: int, *, lock: bool = False) -> Job | None:
        suffix = " FOR UPDATE" if lock else ""
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM jobs WHERE job_id = $1{suffix}",  # noqa: S608 - fixed text
            job_id,
        )
        return None if row is None else _job(row)

    async def save(self, job: Job) -> None:
        await self._conn.execute(
            """UPDATE jobs SET state = $2, attempts = $3, last_error = $4, run_after = $5,
                              updated_at = $6, finished_at = $7
                WHERE job_id = $1""",
            job.job_id,
            job.state.value,
            job.attempts,
            job.last_error,
            job.run_after,
            job.updated_at,
            job.finished_at,
        )

    async def requeue(self, job: Job) -> None:
        row = await self._conn.fetchrow(
            """SELECT id, status::text AS status FROM pgqueuer
                WHERE dedupe_key = $1 AND status IN ('queued', 'picked', 'failed')""",
            dedupe_key(job.job_id),
        )
        if row is None:
            await self._enqueue(job)
        elif row["status"] == "failed":
            # A dead job's queue row is parked: pgqueuer queues it again.
            await queries(_driver(self._conn)).requeue_jobs([JobId(row["id"])])
        elif row["status"] == "picked":
            # The worker that ran the last attempt has not yet parked the row
            # (it records in batches): requeued now, the row would be parked after.
            raise JobStateError(
                f"job {job.job_id}'s last attempt is still being recorded; retry in a moment"
            )

    async def holds_back(self, job: Job) -> bool:
        held = await self._conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM jobs
                               WHERE tenant_id = $1 AND ordered AND job_id < $2
                                 AND state = ANY($3::text[]))""",
            job.tenant_id,
            job.job_id,
            [state.value for state in HOLDS_LATER_JOBS],
        )
        return bool(held)

    async def page(self, state: JobState | None, before: int | None, limit: int) -> JobPage:
        rows = await self._conn.fetch(
            f"""SELECT {_COLUMNS} FROM jobs
                 WHERE ($1::text IS NULL OR state = $1) AND ($2::bigint IS NULL OR job_id < $2)
                 ORDER BY job_id DESC LIMIT $3""",  # noqa: S608 - fixed text
            None if state is None else state.value,
            before,
            limit + 1,
        )
        jobs = [_job(row) for row in rows[:limit]]
        more = len(rows) > limit
        return JobPage(jobs, jobs[-1].job_id if more and jobs else None)

    async def cancellable(self, tenant_id: str) -> list[Job]:
        rows = await self._conn.fetch(
            f"""SELECT {_COLUMNS} FROM jobs
                 WHERE tenant_id = $1 AND state = ANY($2::text[])
                 ORDER BY job_id FOR UPDATE""",  # noqa: S608 - fixed text
            tenant_id,
            [state.value for state in CANCELLABLE],
        )
        return [_job(row) for row in rows]

    async def _enqueue(self, job: Job) -> None:
        [queue_id] = await queries(_driver(self._conn)).enqueue(
            ENTRYPOINT,
            queue_payload(job),
            dedupe_key=dedupe_key(job.job_id),
            on_conflict="skip",
        )
        if queue_id is not None:
            await self._conn.execute(
                "UPDATE jobs SET queue_id = $2 WHERE job_id = $1", job.job_id, int(queue_id)
            )


def _driver(conn: Connection) -> AsyncpgDriver:
    # A pooled connection proxies every method pgqueuer's driver calls.
    return AsyncpgDriver(cast("asyncpg.Connection", conn))
