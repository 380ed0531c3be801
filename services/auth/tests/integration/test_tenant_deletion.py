"""Auth's part of a tenant's deletion: the tenant's own clients go, shared ones lose it."""

from __future__ import annotations

import pytest

from portico_auth.adapters.tenant_deletion import delete_tenant_clients
from portico_common.db import ALL_TENANTS, Database

pytestmark = pytest.mark.integration


async def test_the_tenants_clients_are_deleted_and_shared_ones_narrowed(auth_db: Database) -> None:
    """A client of acme alone is deleted; one of acme and beta keeps beta; beta's stays."""
    async with auth_db.transaction(ALL_TENANTS) as conn:
        for client, tenants in (
            ("only-acme", ["acme"]),
            ("shared", ["acme", "beta"]),
            ("only-beta", ["beta"]),
        ):
            await conn.execute(
                "INSERT INTO clients (client_id, secret_hash, tenants, scopes)"
                " VALUES ($1, 'x', $2, '{}')",
                client,
                tenants,
            )
        await conn.execute(
            "INSERT INTO client_lockouts (client_id, failures, window_started_at)"
            " VALUES ('only-acme', 1, now())"
        )
    assert await delete_tenant_clients(auth_db, "acme") == 2
    assert await delete_tenant_clients(auth_db, "acme") == 0
    async with auth_db.transaction(ALL_TENANTS) as conn:
        rows = await conn.fetch("SELECT client_id, tenants FROM clients ORDER BY client_id")
        lockouts = await conn.fetchval("SELECT count(*) FROM client_lockouts")
    assert [(r["client_id"], r["tenants"]) for r in rows] == [
        ("only-beta", ["beta"]),
        ("shared", ["beta"]),
    ]
    assert lockouts == 0
