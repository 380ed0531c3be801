"""Tenant isolation by row-level security: a missing WHERE clause leaks nothing."""

from __future__ import annotations

import asyncpg
import pytest

from portico_common.db import ALL_TENANTS, Database, create_pool, service_role

pytestmark = pytest.mark.integration

SCHEMA = "kerneltest"


@pytest.fixture
async def seeded(db: Database) -> Database:
    """Two notes for acme and one for beta, written by a platform job."""
    async with db.transaction(ALL_TENANTS) as conn:
        await conn.executemany(
            "INSERT INTO notes (tenant_id, body) VALUES ($1, $2)",
            [("acme", "a1"), ("acme", "a2"), ("beta", "b1")],
        )
    return db


async def _bodies(db: Database, tenant: str) -> list[str]:
    async with db.transaction(tenant) as conn:
        return [r["body"] for r in await conn.fetch("SELECT body FROM notes ORDER BY body")]


async def test_tenant_reads_only_its_rows(seeded: Database) -> None:
    """An unfiltered SELECT in acme's transaction returns acme's rows and no others."""
    assert await _bodies(seeded, "acme") == ["a1", "a2"]
    assert await _bodies(seeded, "beta") == ["b1"]


async def test_all_tenants_reads_every_row(seeded: Database) -> None:
    """ALL_TENANTS, for platform jobs, sees every tenant's rows."""
    assert await _bodies(seeded, ALL_TENANTS) == ["a1", "a2", "b1"]


async def test_unknown_tenant_reads_nothing(seeded: Database) -> None:
    """A tenant with no rows sees an empty table, not an error."""
    assert await _bodies(seeded, "gamma") == []


async def test_tenant_value_is_data_not_sql(seeded: Database) -> None:
    """A tenant id shaped like an SQL injection matches no rows."""
    assert await _bodies(seeded, "x' OR '1'='1") == []


async def test_tenant_cannot_insert_for_another(seeded: Database) -> None:
    """Writing a row for beta inside acme's transaction is refused by the policy."""
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with seeded.transaction("acme") as conn:
            await conn.execute("INSERT INTO notes (tenant_id, body) VALUES ('beta', 'sneaky')")
    assert await _bodies(seeded, "beta") == ["b1"]


async def test_tenant_cannot_change_or_delete_another_tenants_rows(seeded: Database) -> None:
    """Unfiltered UPDATE and DELETE in acme's transaction touch only acme's rows."""
    async with seeded.transaction("acme") as conn:
        assert await conn.execute("UPDATE notes SET body = body || '!'") == "UPDATE 2"
        assert await conn.execute("DELETE FROM notes WHERE body = 'b1'") == "DELETE 0"
    assert await _bodies(seeded, "beta") == ["b1"]
    assert await _bodies(seeded, "acme") == ["a1!", "a2!"]


async def test_tenant_cannot_hand_a_row_to_another(seeded: Database) -> None:
    """Moving acme's row to beta is refused, so no tenant can plant rows in another."""
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with seeded.transaction("acme") as conn:
            await conn.execute("UPDATE notes SET tenant_id = 'beta'")
    assert await _bodies(seeded, "acme") == ["a1", "a2"]


async def test_kernel_idempotency_keys_are_isolated(db: Database) -> None:
    """The kernel's own tenant table follows the same policy."""
    async with db.transaction("acme") as conn:
        await conn.execute(
            """INSERT INTO idempotency_keys (tenant_id, key, method, request_hash, state)
               VALUES ('acme', 'k', '/m', '\\x00', 'in_flight')"""
        )
    async with db.transaction("beta") as conn:
        assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    async with db.transaction("acme") as conn:
        assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 1


async def test_connection_without_a_tenant_sees_nothing(seeded: Database, dsn: str) -> None:
    """As the service's role with app.tenant_id never set, no tenant row is visible or writable."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"SET search_path TO {SCHEMA}")
        assert await conn.fetchval("SELECT current_user") == service_role(SCHEMA)
        assert await conn.fetchval("SELECT count(*) FROM notes") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await conn.execute("INSERT INTO notes (tenant_id, body) VALUES ('acme', 'x')")
    finally:
        await conn.close()


async def test_tenant_and_role_do_not_outlive_the_transaction(dsn: str) -> None:
    """The next user of a pooled connection is not in the last tenant, nor another role."""
    pool = await create_pool(dsn, SCHEMA, min_size=1, max_size=1)
    try:
        db = Database(pool, SCHEMA)
        async with db.transaction("acme") as conn:
            assert await conn.fetchval("SELECT current_user") == service_role(SCHEMA)
            assert await conn.fetchval("SELECT current_setting('app.tenant_id', true)") == "acme"
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT current_user") == service_role(SCHEMA)
            assert not await conn.fetchval("SELECT current_setting('app.tenant_id', true)")
    finally:
        await pool.close()


async def test_rolled_back_transaction_keeps_the_pool_clean(dsn: str) -> None:
    """A transaction that fails still leaves its connection without a tenant."""
    pool = await create_pool(dsn, SCHEMA, min_size=1, max_size=1)
    try:
        db = Database(pool, SCHEMA)
        with pytest.raises(RuntimeError, match="handler failed"):
            async with db.transaction("acme"):
                raise RuntimeError("handler failed")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT current_user") == service_role(SCHEMA)
            assert not await conn.fetchval("SELECT current_setting('app.tenant_id', true)")
    finally:
        await pool.close()


async def test_transaction_needs_a_tenant(db: Database) -> None:
    """Opening a transaction with an empty tenant id is a programming error, caught early."""
    with pytest.raises(ValueError, match="needs a tenant id"):
        async with db.transaction(""):
            pass  # pragma: no cover - never entered


async def test_pool_resolves_names_in_the_service_schema(db: Database) -> None:
    """Unqualified table names in a transaction resolve in the service's schema."""
    async with db.transaction("acme") as conn:
        assert await conn.fetchval("SELECT current_schema()") == SCHEMA


async def test_isolation_function_gives_the_written_out_policy(pool: asyncpg.Pool) -> None:
    """enable_tenant_isolation() forces RLS with exactly the policy migrations spelled out."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, p.qual, p.with_check
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_policies p ON p.schemaname = n.nspname AND p.tablename = c.relname
                WHERE n.nspname = $1 AND c.relname IN ('notes', 'effects')
                  AND p.policyname = 'tenant_isolation'
                ORDER BY c.relname""",
            SCHEMA,
        )
    effects, notes = (dict(r) for r in rows)
    assert effects["relrowsecurity"]
    assert effects["relforcerowsecurity"]
    assert (effects["qual"], effects["with_check"]) == (notes["qual"], notes["with_check"])


async def test_isolation_function_protects_its_table(db: Database) -> None:
    """A table isolated by the function hides other tenants' rows from a bare SELECT."""
    async with db.transaction(ALL_TENANTS) as conn:
        await conn.executemany(
            "INSERT INTO effects (tenant_id, event_id) VALUES ($1, $2)",
            [("acme", "e1"), ("beta", "e2")],
        )
    async with db.transaction("acme") as conn:
        assert [r["event_id"] for r in await conn.fetch("SELECT event_id FROM effects")] == ["e1"]
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with db.transaction("acme") as conn:
            await conn.execute("INSERT INTO effects (tenant_id, event_id) VALUES ('beta', 'x')")
