"""Batched retention purges on real PostgreSQL: what goes, what stays, what is never waited on."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from prometheus_client import REGISTRY

from portico_common.db import ALL_TENANTS, Database
from portico_common.errors import ConfigurationError
from portico_common.retention import (
    DAY,
    Retention,
    RetentionRule,
    RetentionSettings,
    kernel_rules,
    retention_job,
)
from portico_common.settings import ServiceSettings

pytestmark = pytest.mark.integration

RULES = kernel_rules(
    RetentionSettings(), stream_max_age_seconds=7 * DAY, idempotency_stale_seconds=60
)


async def outbox_rows(db: Database, *, sent_days_ago: float | None, count: int) -> None:
    """`count` outbox rows, published that many days ago (None: not published yet)."""
    async with db.transaction(ALL_TENANTS) as conn:
        await conn.executemany(
            """INSERT INTO outbox (event_id, subject, event_type, tenant_id, headers, payload,
                                   published_at)
               VALUES ($1, 's', 't', 'acme', '{}', '', CASE WHEN $2::float8 IS NULL THEN NULL
                       ELSE now() - make_interval(secs => $2::float8 * 86400) END)""",
            [(uuid.uuid4(), sent_days_ago) for _ in range(count)],
        )


async def count(db: Database, sql: str) -> int:
    async with db.transaction(ALL_TENANTS) as conn:
        return int(await conn.fetchval(sql))


async def test_only_published_outbox_rows_past_retention_go_in_batches(db: Database) -> None:
    """35 rows sent two days ago go in four batches of ten; unsent and recent rows stay."""
    await outbox_rows(db, sent_days_ago=2, count=35)
    await outbox_rows(db, sent_days_ago=None, count=3)
    await outbox_rows(db, sent_days_ago=0.1, count=4)
    before = REGISTRY.get_sample_value(
        "portico_retention_purged_rows_total", {"service": db.schema, "table": "outbox"}
    )
    purged = await Retention(db, RULES, batch_size=10, pause_seconds=0).purge(RULES[0])
    assert purged == 35
    assert await count(db, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 3
    assert await count(db, "SELECT count(*) FROM outbox") == 7
    after = REGISTRY.get_sample_value(
        "portico_retention_purged_rows_total", {"service": db.schema, "table": "outbox"}
    )
    assert (after or 0) - (before or 0) == 35


async def test_inbox_and_idempotency_keys_of_every_tenant_expire(db: Database) -> None:
    """Inbox rows past 8 days and idempotency keys past a day go, whatever their tenant."""
    async with db.transaction(ALL_TENANTS) as conn:
        for tenant, days in (("acme", 9), ("globex", 9), ("acme", 1)):
            await conn.execute(
                """INSERT INTO inbox (consumer, event_id, event_type, tenant_id, processed_at)
                   VALUES ('c', $1, 't', $2, now() - make_interval(days => $3))""",
                str(uuid.uuid4()),
                tenant,
                days,
            )
        for tenant, hours in (("acme", 30), ("globex", 30), ("globex", 2)):
            await conn.execute(
                """INSERT INTO idempotency_keys (tenant_id, key, method, request_hash, state,
                                                 updated_at)
                   VALUES ($1, $2, 'm', '\\x00', 'done', now() - make_interval(hours => $3))""",
                tenant,
                str(uuid.uuid4()),
                hours,
            )
    purged = await Retention(db, RULES, pause_seconds=0).purge_all()
    assert purged == {"outbox": 0, "inbox": 2, "idempotency_keys": 2, "access_denials": 0}
    assert await count(db, "SELECT count(*) FROM inbox") == 1
    assert await count(db, "SELECT count(*) FROM idempotency_keys") == 1


async def test_a_row_the_hot_path_holds_is_skipped_not_waited_on(
    db: Database, pool: asyncpg.Pool
) -> None:
    """A purge meets a locked expired row: it finishes at once and leaves that row for later."""
    await outbox_rows(db, sent_days_ago=2, count=5)
    async with pool.acquire() as holder, holder.transaction():
        await holder.execute("SELECT seq FROM outbox ORDER BY seq LIMIT 1 FOR UPDATE")
        purged = await asyncio.wait_for(
            Retention(db, RULES, pause_seconds=0).purge(RULES[0]), timeout=5
        )
    assert purged == 4
    assert await count(db, "SELECT count(*) FROM outbox") == 1


def test_an_inbox_shorter_than_the_stream_is_refused() -> None:
    """Inbox rows must outlive the messages they guard, or a redelivery would apply twice."""
    with pytest.raises(ConfigurationError, match="shorter than the event stream"):
        kernel_rules(
            RetentionSettings(inbox_seconds=DAY),
            stream_max_age_seconds=7 * DAY,
            idempotency_stale_seconds=60,
        )
    with pytest.raises(ConfigurationError, match="in-flight key is reclaimed"):
        kernel_rules(
            RetentionSettings(idempotency_seconds=30),
            stream_max_age_seconds=7 * DAY,
            idempotency_stale_seconds=60,
        )


def test_rules_take_plain_identifiers_only() -> None:
    """A table or column name is spliced into SQL, so anything but an identifier is refused."""
    with pytest.raises(ValueError, match="identifier"):
        RetentionRule("outbox; DROP TABLE inbox", "published_at", 1)


def test_the_job_is_off_at_interval_zero_and_takes_the_services_rules(db: Database) -> None:
    """Interval 0 schedules nothing; otherwise one loop over the kernel's and a service's rules."""
    off = ServiceSettings(retention_interval_seconds=0)
    assert retention_job(db, off) == []
    extra = RetentionRule("notes", "id", 1)
    assert len(retention_job(db, ServiceSettings(), [extra])) == 1
