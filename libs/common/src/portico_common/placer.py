"""The placer: makes the place of every bridge or silo tenant tenancy is waiting for.

Tenancy records a new tenant's isolation (pool, bridge, silo) and keeps a
bridge or silo tenant `provisioning`; it never creates a schema or a
database (it holds no administrator's rights). This privileged step, run
with the administrator's and the migrator's URLs (`python -m
portico_common.dbsetup place-pending`, in `portico up`, or as a Helm
Deployment or Job), finds those tenants in tenancy's table as the migrator,
places each (`placement.place_tenant`: idempotent, so a retry after a crash
finishes the job), and stamps the outcome in the placement columns, the
only ones it writes: `placed_at` and the location, or the error and the
attempt. Tenancy turns `placed_at` into tenant.activated.

Several placers may run: each tenant is taken under a session advisory lock,
so two never place one tenant at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg

from portico_common.db import Place, Tier
from portico_common.errors import PorticoError
from portico_common.placement import bridge_schema, place_tenant

log = logging.getLogger(__name__)

# The service that keeps the tenants and their chosen isolation.
TENANCY = "tenancy"
MAX_ERROR = 1000


@dataclass(frozen=True)
class Placed:
    """One tenant the pass took on: its place, or why not."""

    tenant_id: str
    place: Place | None
    error: str = ""


async def place_pending(
    admin_url: str,
    migrator_url: str,
    services: Mapping[str, str | None],
    *,
    limit: int = 10,
    ssl_context: ssl.SSLContext | None = None,
) -> list[Placed]:
    """Places up to `limit` bridge or silo tenants tenancy waits for; what each came to."""
    conn = await asyncpg.connect(migrator_url, ssl=ssl_context)
    done: list[Placed] = []
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', '*', true)")
            rows = await conn.fetch(
                f"""SELECT tenant_id, isolation FROM {TENANCY}.tenants
                     WHERE isolation <> 'pool' AND placed_at IS NULL AND state = 'provisioning'
                     ORDER BY created_at, tenant_id LIMIT $1""",  # noqa: S608 - constant schema
                limit,
            )
        for row in rows:
            tenant, tier = row["tenant_id"], Tier(row["isolation"])
            key = f"portico:placer:{tenant}"
            if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key):
                continue  # another placer has it
            try:
                done.append(
                    await _place_one(
                        conn, (admin_url, migrator_url), tenant, tier, services, tls=ssl_context
                    )
                )
            finally:
                await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", key)
    finally:
        await conn.close()
    return done


async def _place_one(
    conn: asyncpg.Connection,
    urls: tuple[str, str],
    tenant: str,
    tier: Tier,
    services: Mapping[str, str | None],
    *,
    tls: ssl.SSLContext | None,
) -> Placed:
    admin_url, migrator_url = urls
    try:
        place = await place_tenant(admin_url, migrator_url, tenant, tier, services, ssl_context=tls)
    except (PorticoError, asyncpg.PostgresError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        log.warning("placing a tenant failed", extra={"tenant_id": tenant, "error": error})
        await _report(conn, tenant, None, error)
        return Placed(tenant, None, error)
    # A bridge is one schema per service: name them all.
    location = (
        ", ".join(bridge_schema(service, tenant) for service in services)
        if place.tier is Tier.BRIDGE
        else place.location
    )
    await _report(conn, tenant, location, "")
    return Placed(tenant, place)


async def _report(conn: asyncpg.Connection, tenant: str, location: str | None, error: str) -> None:
    async with conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', '*', true)")
        await conn.execute(
            f"""UPDATE {TENANCY}.tenants
                   SET placed_at = CASE WHEN $2 THEN now() END,
                       placement_location = $3, placement_error = $4,
                       placement_attempts = placement_attempts + 1
                 WHERE tenant_id = $1 AND placed_at IS NULL""",  # noqa: S608 - constant schema
            tenant,
            location is not None,
            location or "",
            error,
        )


async def run_placer(
    admin_url: str,
    migrator_url: str,
    services: Mapping[str, str | None],
    stop: asyncio.Event,
    *,
    every_seconds: float = 1.0,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Places waiting tenants every `every_seconds` until `stop` is set; failures are retried."""
    while not stop.is_set():
        try:
            for placed in await place_pending(
                admin_url, migrator_url, services, ssl_context=ssl_context
            ):
                if placed.place is not None:
                    log.info(
                        "tenant placed",
                        extra={"tenant_id": placed.tenant_id, "tier": str(placed.place.tier)},
                    )
        except (PorticoError, asyncpg.PostgresError, OSError) as exc:
            log.warning("the placer's pass failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
