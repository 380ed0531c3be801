"""Purging a million expired outbox rows beside the hot path, next to the hot path alone.

The hot path is what every command does in the kernel's tables: claim an
idempotency key, write an event to the outbox and record an inbox row, in
one transaction, from four concurrent callers. It runs for a while alone
(the baseline), then again while `Retention.purge` deletes BENCH_RETENTION_ROWS
(default 1,000,000) published outbox rows two days old, in its default batches
of 5,000 with a 50 ms pause; that phase lasts until the purge is done. Both
phases in the same run, on the same database, which holds the million rows
during the baseline too.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from bench.stats import percentile, summary
from portico.events.v1 import events_pb2 as ev
from portico_common.db import Database, open_database
from portico_common.events.envelope import Envelope
from portico_common.events.outbox import write_event
from portico_common.retention import DAY, Retention, RetentionSettings, kernel_rules
from portico_embedded.postgres import PostgresServer
from portico_embedded.testing.databases import migrate_database

SCHEMA = "benchretention"
ROWS = int(os.environ.get("BENCH_RETENTION_ROWS", "1000000"))
BASELINE_SECONDS = float(os.environ.get("BENCH_RETENTION_BASELINE_SECONDS", "20"))
CALLERS = 4
SETTINGS = RetentionSettings()


async def seed(admin_url: str) -> None:
    """ROWS published outbox rows, sent two days ago (the administrator loads them fast)."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(
            f"""INSERT INTO {SCHEMA}.outbox
                   (event_id, subject, event_type, tenant_id, headers, payload,
                    created_at, published_at)
                SELECT gen_random_uuid(), 'portico.rollout.completed', 'rollout.completed',
                       'tenant-' || (i % 20), '{{}}', '\\x0a0b0c', now() - interval '2 days',
                       now() - interval '2 days'
                  FROM generate_series(1, $1) AS i""",  # noqa: S608 - SCHEMA is a constant
            ROWS,
        )
        await conn.execute(f"ANALYZE {SCHEMA}.outbox")
    finally:
        await conn.close()


async def command(db: Database, n: int) -> float:
    """One command's kernel writes in one transaction; returns its latency."""
    tenant = f"tenant-{n % 20}"
    started = time.perf_counter()
    async with db.transaction(tenant) as conn:
        await conn.execute(
            """INSERT INTO idempotency_keys (tenant_id, key, method, request_hash, state)
               VALUES ($1, $2, 'Bench', '\\x00', 'in_flight')""",
            tenant,
            str(uuid.uuid4()),
        )
        payload = ev.RolloutCompleted(tenant_id=tenant, rollout_id=f"r-{n}")
        await write_event(conn, Envelope.of(payload, source="portico/rollout", tenant_id=tenant))
        await conn.execute(
            """INSERT INTO inbox (consumer, event_id, event_type, tenant_id)
               VALUES ('bench', $1, 'rollout.completed', $2)""",
            str(uuid.uuid4()),
            tenant,
        )
    return time.perf_counter() - started


async def hot_path(db: Database, until: asyncio.Event) -> list[float]:
    """CALLERS callers issuing commands back to back until `until` is set."""
    samples: list[float] = []
    counter = iter(range(10**9))

    async def caller() -> None:
        while not until.is_set():
            samples.append(await command(db, next(counter)))

    await asyncio.gather(*(caller() for _ in range(CALLERS)))
    return samples


async def timed(seconds: float) -> asyncio.Event:
    done = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, done.set)
    return done


async def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="portico-bench-"))
    pg = PostgresServer(home / "pg", fsync=False, password=secrets.token_hex(16)).start()
    try:
        url = await migrate_database(pg.url, SCHEMA, None)
        db = await open_database(url, SCHEMA, max_size=CALLERS + 2)
        started = time.perf_counter()
        await seed(pg.url)
        seeded = time.perf_counter() - started
        print(f"retention: seeded {ROWS:,} expired outbox rows in {seeded:.1f}s")
        await hot_path(db, await timed(2))  # warm the pool and the plans

        baseline_started = time.perf_counter()
        baseline = await hot_path(db, await timed(BASELINE_SECONDS))
        baseline_seconds = time.perf_counter() - baseline_started

        rules = kernel_rules(SETTINGS, stream_max_age_seconds=7 * DAY, idempotency_stale_seconds=60)
        retention = Retention(
            db, rules[:1], batch_size=SETTINGS.batch_size, pause_seconds=SETTINGS.pause_seconds
        )
        purge_done = asyncio.Event()
        purge_started = time.perf_counter()

        async def purge() -> int:
            try:
                return await retention.purge(rules[0])
            finally:
                purge_done.set()

        purged, during = await asyncio.gather(purge(), hot_path(db, purge_done))
        purge_seconds = time.perf_counter() - purge_started
        left = await db.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at < now() - interval '1 day'"
        )
        await db.close()
    finally:
        pg.stop()

    print(
        f"retention: purged {purged:,} rows in {purge_seconds:.1f}s "
        f"({purged / purge_seconds:,.0f} rows/s, batches of {SETTINGS.batch_size}), "
        f"{left} expired left"
    )
    print(
        f"  hot path alone ({baseline_seconds:.0f}s, {CALLERS} callers): {summary(baseline)} "
        f"p99={percentile(baseline, 0.99) * 1000:.2f}ms {len(baseline) / baseline_seconds:.0f}/s"
    )
    print(
        f"  hot path while purging ({purge_seconds:.0f}s): {summary(during)} "
        f"p99={percentile(during, 0.99) * 1000:.2f}ms {len(during) / purge_seconds:.0f}/s"
    )
