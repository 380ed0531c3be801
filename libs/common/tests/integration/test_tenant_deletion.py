"""A service's part of the deletion saga: every row of the tenant goes, children first."""

from __future__ import annotations

import asyncpg
import pytest

from portico_common.db import ALL_TENANTS, Database
from portico_common.tenant_deletion import delete_tenant_rows

pytestmark = pytest.mark.integration

SCHEMA = """
CREATE TABLE parents (tenant_id text NOT NULL, id text PRIMARY KEY);
CREATE TABLE children (
    tenant_id text NOT NULL, id text PRIMARY KEY,
    parent text NOT NULL REFERENCES parents (id)
);
CREATE TABLE grandchildren (
    tenant_id text NOT NULL, id text PRIMARY KEY,
    child text NOT NULL REFERENCES children (id)
);
CREATE TABLE evidence (tenant_id text NOT NULL, note text NOT NULL);
CREATE TABLE platform (id text PRIMARY KEY);
CREATE TABLE inbox (tenant_id text NOT NULL, event_id text NOT NULL);
"""


async def test_the_tenants_rows_go_in_reference_order_and_nothing_else(database_url: str) -> None:
    """Rows of the tenant go from every table but kept ones; other tenants' rows stay."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(SCHEMA)
        for tenant in ("acme", "beta"):
            await conn.execute("INSERT INTO parents VALUES ($1, $1 || '-p')", tenant)
            await conn.execute("INSERT INTO children VALUES ($1, $1 || '-c', $1 || '-p')", tenant)
            await conn.execute(
                "INSERT INTO grandchildren VALUES ($1, $1 || '-g', $1 || '-c')", tenant
            )
            await conn.execute("INSERT INTO evidence VALUES ($1, 'kept')", tenant)
            await conn.execute("INSERT INTO inbox VALUES ($1, 'e-1')", tenant)
        await conn.execute("INSERT INTO platform VALUES ('x')")
        async with conn.transaction():
            deleted = await delete_tenant_rows(conn, "acme", keep=("evidence",))
        assert deleted == 3
        for table in ("parents", "children", "grandchildren"):
            tenants = [r["tenant_id"] for r in await conn.fetch(f"SELECT tenant_id FROM {table}")]  # noqa: S608 - constant names
            assert tenants == ["beta"], table
        assert await conn.fetchval("SELECT count(*) FROM evidence") == 2
        assert await conn.fetchval("SELECT count(*) FROM inbox") == 2
        assert await conn.fetchval("SELECT count(*) FROM platform") == 1
    finally:
        await conn.close()


async def test_a_migrated_schema_loses_the_tenants_rows_as_the_services_own_role(
    db: Database,
) -> None:
    """In a schema the kernel migrated, the service's role deletes the tenant's rows and
    leaves the tables only the migrator writes (its placements) alone, instead of failing."""
    async with db.transaction(ALL_TENANTS) as conn:
        await conn.executemany(
            "INSERT INTO notes (tenant_id, body) VALUES ($1, $2)",
            [("acme", "a1"), ("acme", "a2"), ("beta", "b1")],
        )
    async with db.transaction("acme") as conn:
        assert await delete_tenant_rows(conn, "acme") == 2
    async with db.transaction(ALL_TENANTS) as conn:
        assert [r["body"] for r in await conn.fetch("SELECT body FROM notes")] == ["b1"]
