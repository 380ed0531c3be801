"""The placer `portico up` runs places a bridge tenant tenancy waits for, and stops on demand."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from portico_cli import database
from portico_cli.placer import PlacerThread
from portico_common.placement import bridge_schema
from portico_embedded.testing.databases import ServiceDatabaseUrl, migrator_url

pytestmark = pytest.mark.integration


async def test_the_placer_thread_places_a_waiting_bridge_tenant(
    database_url: str, service_database_url: ServiceDatabaseUrl
) -> None:
    await service_database_url("tenancy")
    await service_database_url("notes", None)
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(
            """INSERT INTO tenancy.tenants (tenant_id, display_name, created_at, state,
                                            isolation, provisioned_at)
               VALUES ('waiting', 'waiting', now(), 'provisioning', 'bridge', now())"""
        )
        placer = PlacerThread(
            database_url, migrator_url(database_url), {"notes": None}, every_seconds=0.05
        )
        placer.start()
        try:
            for _ in range(200):
                row = await admin.fetchrow(
                    "SELECT placed_at, placement_location FROM tenancy.tenants"
                    " WHERE tenant_id = 'waiting'"
                )
                assert row is not None
                if row["placed_at"] is not None:
                    break
                await asyncio.sleep(0.05)
        finally:
            stopped = await asyncio.to_thread(placer.stop, 10.0)
        assert stopped
        assert not placer.running()
        assert row is not None
        assert row["placed_at"] is not None
        assert row["placement_location"] == bridge_schema("notes", "waiting")
        assert (
            await admin.fetchval("SELECT tier FROM notes.placements WHERE tenant_id = 'waiting'")
            == "bridge"
        )
    finally:
        await admin.close()


def test_an_administrators_login_is_kept_for_the_placer_only() -> None:
    """The run's database keeps the admin's and migrator's URLs out of its repr."""
    found = database.ServiceDatabases(
        "postgresql://h/db", {}, admin_url="postgresql://a:s3cret@h/db", migrator_url="m"
    )
    assert "s3cret" not in repr(found)
