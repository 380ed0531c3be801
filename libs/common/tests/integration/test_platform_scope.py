"""ALL_TENANTS ('*') opens every tenant's rows to the platform role only, never the request role."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import pytest
from pydantic import SecretStr

from portico_common.db import ALL_TENANTS, Database, platform_role, service_role
from portico_common.errors import DatabaseSetupError, MigrationError
from portico_common.runtime import Runtime
from portico_common.settings import ServiceSettings
from portico_embedded.testing.databases import ServiceDatabaseUrl

pytestmark = pytest.mark.integration

SCHEMA = "kerneltest"


@pytest.fixture
async def seeded(db: Database) -> Database:
    async with db.transaction(ALL_TENANTS) as conn:
        await conn.executemany(
            "INSERT INTO notes (tenant_id, body) VALUES ($1, $2)",
            [("acme", "a1"), ("beta", "b1")],
        )
    return db


async def test_the_request_role_setting_star_sees_and_writes_no_tenant(
    seeded: Database, pool: asyncpg.Pool
) -> None:
    """'*' set by hand on the request role's connection opens nothing: no rows, no writes."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', '*', true)")
        assert await conn.fetchval("SELECT current_user") == service_role(SCHEMA)
        assert await conn.fetchval("SELECT count(*) FROM notes") == 0
        assert await conn.execute("UPDATE notes SET body = 'x'") == "UPDATE 0"
        assert await conn.execute("DELETE FROM notes") == "DELETE 0"
    async with pool.acquire() as again, again.transaction():
        await again.execute("SELECT set_config('app.tenant_id', '*', true)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await again.execute("INSERT INTO notes (tenant_id, body) VALUES ('acme', 'x')")
    async with seeded.transaction(ALL_TENANTS) as conn:
        assert sorted(r["body"] for r in await conn.fetch("SELECT body FROM notes")) == [
            "a1",
            "b1",
        ]


async def test_all_tenants_runs_as_the_platform_role(seeded: Database) -> None:
    """Database sends ALL_TENANTS to the platform pool and a tenant to the request pool."""
    async with seeded.transaction(ALL_TENANTS) as conn:
        assert await conn.fetchval("SELECT current_user") == platform_role(SCHEMA)
    async with seeded.transaction("acme") as conn:
        assert await conn.fetchval("SELECT current_user") == service_role(SCHEMA)


async def test_the_platform_role_with_a_tenant_sees_only_that_tenant(
    seeded: Database, platform_pool: asyncpg.Pool
) -> None:
    """The platform role bypasses nothing: with a tenant id it is held to that tenant."""
    async with platform_pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', 'acme', true)")
        assert [r["body"] for r in await conn.fetch("SELECT body FROM notes")] == ["a1"]


async def test_no_policy_lets_star_through_unguarded(pool: asyncpg.Pool) -> None:
    """Every policy of the schema, the written-out ones included, says platform_scope()."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT tablename, qual, with_check FROM pg_policies WHERE schemaname = $1", SCHEMA
        )
    assert {r["tablename"] for r in rows} >= {"notes", "effects", "idempotency_keys"}
    for row in rows:
        for expression in (row["qual"], row["with_check"]):
            assert "'*'" not in expression
            assert "platform_scope()" in expression


async def test_a_database_without_its_platform_pool_refuses_all_tenants(
    pool: asyncpg.Pool,
) -> None:
    """Without the platform pool, ALL_TENANTS is refused instead of run on the request role."""
    with pytest.raises(RuntimeError, match="needs the platform pool"):
        async with Database(pool, SCHEMA).transaction(ALL_TENANTS):
            pass  # pragma: no cover - never entered


async def test_a_migration_giving_star_another_shape_fails(
    service_database_url: ServiceDatabaseUrl, make_package: Callable[[dict[str, str]], str]
) -> None:
    """A policy that compares '*' in a form the guard cannot rewrite fails the migration."""
    package = make_package(
        {
            "0001_odd.sql": """
CREATE TABLE odd (tenant_id text NOT NULL);
ALTER TABLE odd ENABLE ROW LEVEL SECURITY;
CREATE POLICY odd_all ON odd USING ('*' = current_setting('app.tenant_id', true));
"""
        }
    )
    with pytest.raises(MigrationError, match=r"compares app.tenant_id with '\*'"):
        await service_database_url("oddtest", package)


async def test_a_service_refuses_the_request_role_as_its_platform_role(dsn: str) -> None:
    """The platform URL must log in as the platform role, not the request role."""
    settings = ServiceSettings(
        database_url=SecretStr(dsn),
        platform_database_url=SecretStr(dsn),
        nats_url="nats://127.0.0.1:1",
    )
    with pytest.raises(DatabaseSetupError, match=f"which is not {platform_role(SCHEMA)}"):
        await Runtime.start(SCHEMA, settings, None)
