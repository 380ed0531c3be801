"""Auth's PostgreSQL specifics: the bootstrap lock and row-level security on raw SQL.

What both adapters promise is in tests/contract.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from portico_auth.adapters.postgres import LIST_TENANT_CLIENTS
from portico_auth.app import handlers
from portico_auth.app.ports import UnitOfWorkFactory
from portico_auth.domain.signing_keys import KeyPolicy
from portico_common.db import ALL_TENANTS, Database

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.integration
async def test_replicas_starting_together_create_one_key(pg_uow: UnitOfWorkFactory) -> None:
    """Five concurrent bootstraps on one database agree on a single new key."""
    keys = await asyncio.gather(
        *(handlers.ensure_signing_key(pg_uow, KeyPolicy()) for _ in range(5))
    )
    assert len({k.kid for k in keys}) == 1
    async with pg_uow(ALL_TENANTS) as tx:
        assert len(await tx.keys.list()) == 1


@pytest.mark.integration
async def test_auth_tables_are_invisible_to_tenant_transactions(
    pg_uow: UnitOfWorkFactory, auth_db: Database
) -> None:
    """A tenant-scoped transaction sees no signing keys or clients, and cannot add any."""
    await handlers.ensure_signing_key(pg_uow, KeyPolicy(lifetime=timedelta(days=2)))
    await handlers.upsert_admin_client(pg_uow, "portico-admin", "admin-secret-0123456789")
    async with auth_db.transaction("acme") as conn:
        assert await conn.fetchval("SELECT count(*) FROM signing_keys") == 0
        assert await conn.fetchval("SELECT count(*) FROM clients") == 0
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with auth_db.transaction("acme") as conn:
            await conn.execute(
                "INSERT INTO clients (client_id, secret_hash, tenants, scopes)"
                " VALUES ('evil', 'x', '{*}', '{}')"
            )
    async with auth_db.transaction(ALL_TENANTS) as conn:
        assert await conn.fetchval("SELECT count(*) FROM signing_keys") == 1
        assert await conn.fetchval("SELECT count(*) FROM clients") == 1


@pytest.mark.integration
async def test_a_tenants_clients_are_listed_through_the_index_not_a_scan(
    pg_uow: UnitOfWorkFactory, database_url: str
) -> None:
    """With thousands of other tenants' clients, listing one tenant's reads only its own rows."""
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(
            """INSERT INTO auth.clients (client_id, secret_hash, tenants, scopes)
               SELECT 'bot-' || g, 'scrypt$x', ARRAY['tenant-' || g], '{}'
               FROM generate_series(1, 5000) AS g"""
        )
        await admin.execute("ANALYZE auth.clients")
        await admin.execute("SET search_path = auth")
        plan = await admin.fetchval(
            f"EXPLAIN (FORMAT JSON) {LIST_TENANT_CLIENTS}", "tenant-42", "", 101
        )
    finally:
        await admin.close()
    nodes = json.dumps(plan)
    assert "clients_by_tenants" in nodes, nodes
    assert "Seq Scan" not in nodes, nodes
    async with pg_uow(ALL_TENANTS) as tx:
        listed = await tx.clients.list("tenant-42", after="", limit=101)
        assert [c.client_id for c in listed] == ["bot-42"]
        assert len(await tx.clients.list(None, after="", limit=10)) == 10
