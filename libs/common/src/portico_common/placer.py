"""The placer: makes the place of every bridge or silo tenant tenancy is waiting for.

Tenancy records a new tenant's isolation (pool, bridge, silo) and keeps a
bridge or silo tenant `provisioning`; it never creates a schema or a
database (it holds no administrator's rights). This privileged step, run
with the administrator's and the migrator's URLs (`python -m
portico_common.dbsetup place-pending`, in `portico up`, or as a Helm
Deployment or Job), finds those tenants in tenancy's table as the migrator,
places each (`placement.place_tenant`: idempotent, so a retry after a crash
finishes the job; rows the tenant wrote to the shared tables while it waited
move into its place with it), and stamps the outcome in the placement
columns, the only ones it writes: `placed_at` and the location, or the error
and the attempt. Tenancy turns `placed_at` into tenant.activated.

A failed placement is tried again after an exponentially growing, jittered
delay (`Backoff`), kept in the tenant's `placement_retry_at`: a tenant that
cannot be placed (placed in another tier already, a server refusing)
costs a pass every few minutes at most, not one every second.

Each pass also drops the place of every bridge or silo tenant tenancy has
`deleted` (every service deleted its rows): its bridge schemas or its silo
database, and the services' placements rows naming them
(`placement_drop.drop_place`), then stamps `placement_dropped_at`; a drop
that fails is recorded (`placement_drop_error`) and backs off the same way.

Several placers may run: each tenant is taken under a session advisory lock,
so two never place (or drop) one tenant at once, and each re-reads the
tenant's row under that lock before acting on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass

import asyncpg

from portico.events.v1 import events_pb2 as ev
from portico_common.db import Place, Tier
from portico_common.errors import PorticoError
from portico_common.events.envelope import Envelope
from portico_common.events.outbox import write_event
from portico_common.placement import bridge_schema, place_tenant
from portico_common.placement_drop import drop_place

log = logging.getLogger(__name__)

# The service that keeps the tenants and their chosen isolation.
TENANCY = "tenancy"
# The CloudEvents source of tenancy's events, which a move's announcement is.
TENANCY_SOURCE = "portico/tenancy"
MAX_ERROR = 1000
# A tenant the placer should place now: waiting for its place, and not backing off.
_DUE = """isolation <> 'pool' AND placed_at IS NULL AND state = 'provisioning'
          AND (placement_retry_at IS NULL OR placement_retry_at <= now())"""


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long a tenant whose placement (or place's drop) failed waits for the next try.

    The n-th failure in a row waits between half and all of
    `base * 2**(n-1)` seconds, at most `cap`: "equal jitter", so tenants that
    failed together (a server down) come back spread out, yet none at once.
    """

    base: float = 1.0
    cap: float = 300.0
    # Uniform in [0, 1): the jitter's source (never security).
    unit: Callable[[], float] = random.random

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failure in a row (1-based)."""
        if failures < 1:
            raise ValueError("failures count from 1")
        # Bounded exponent: a thousandth failure must not overflow a float.
        ceiling = min(self.cap, self.base * 2.0 ** min(failures - 1, 64))
        return ceiling / 2 + ceiling / 2 * self.unit()


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
    backoff: Backoff | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> list[Placed]:
    """Places up to `limit` bridge or silo tenants tenancy waits for; what each came to.

    A tenant whose last attempt failed waits until its `placement_retry_at`.
    """
    conn = await asyncpg.connect(migrator_url, ssl=ssl_context)
    done: list[Placed] = []
    try:
        async for tenant in _locked_tenants(conn, _DUE, "created_at, tenant_id", limit):
            # Under the lock: another placer may have placed it, or failed and
            # set its next attempt, since the scan.
            due = await _due(conn, tenant)
            if due is not None:
                tier, failures = due
                done.append(
                    await _place_one(
                        conn,
                        (admin_url, migrator_url),
                        (tenant, tier, failures),
                        services,
                        backoff=backoff or Backoff(),
                        tls=ssl_context,
                    )
                )
    finally:
        await conn.close()
    return done


async def _locked_tenants(
    conn: asyncpg.Connection, where: str, order: str, limit: int
) -> AsyncIterator[str]:
    """Up to `limit` of tenancy's tenants matching `where`, each held under the placers'
    per-tenant lock while the caller works on it; one another placer holds is passed over."""
    async with conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', '*', true)")
        rows = await conn.fetch(
            f"""SELECT tenant_id FROM {TENANCY}.tenants
                 WHERE {where} ORDER BY {order} LIMIT $1""",  # noqa: S608 - constants
            limit,
        )
    for row in rows:
        tenant = row["tenant_id"]
        key = f"portico:placer:{tenant}"
        if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key):
            continue  # another placer has it
        try:
            yield tenant
        finally:
            await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", key)


async def _due(conn: asyncpg.Connection, tenant: str) -> tuple[Tier, int] | None:
    """The tenant's tier and failures in a row, if it is (still) due for placing."""
    async with conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', '*', true)")
        row = await conn.fetchrow(
            f"""SELECT isolation, placement_attempts, placement_error <> '' AS failed
                  FROM {TENANCY}.tenants WHERE tenant_id = $1 AND {_DUE}""",  # noqa: S608 - constants
            tenant,
        )
    if row is None:
        return None
    # Every attempt before a success failed: the count is the failures in a row.
    return Tier(row["isolation"]), row["placement_attempts"] if row["failed"] else 0


async def _place_one(
    conn: asyncpg.Connection,
    urls: tuple[str, str],
    due: tuple[str, Tier, int],
    services: Mapping[str, str | None],
    *,
    backoff: Backoff,
    tls: ssl.SSLContext | None,
) -> Placed:
    admin_url, migrator_url = urls
    tenant, tier, failures = due
    try:
        place = await place_tenant(admin_url, migrator_url, tenant, tier, services, ssl_context=tls)
    except (PorticoError, asyncpg.PostgresError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        retry_in = backoff.delay(failures + 1)
        log.warning(
            "placing a tenant failed",
            extra={"tenant_id": tenant, "error": error, "retry_in_seconds": round(retry_in, 3)},
        )
        await _report(conn, tenant, None, error, retry_in)
        return Placed(tenant, None, error)
    await _report(conn, tenant, _location(tenant, place, services), "", None)
    return Placed(tenant, place)


def _location(tenant: str, place: Place, services: Iterable[str]) -> str:
    # A bridge is one schema per service: name them all.
    if place.tier is Tier.BRIDGE:
        return ", ".join(bridge_schema(service, tenant) for service in services)
    return place.location


async def record_move(
    migrator_url: str,
    tenant: str,
    place: Place,
    services: Iterable[str],
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> bool:
    """Records in tenancy that every placed service moved the tenant to `place`.

    Tenancy's `isolation` and location are what `GetPlacement` shows and what
    a new tenant was placed by; a move (`dbsetup move`) changes the place
    under tenancy, so it says so here, in the placement columns the placer
    writes, and announces it (`tenant.moved`, in tenancy's outbox, in the
    same transaction) when the tier or the location changed: recording the
    same move again announces nothing. False when this database has no
    tenancy (a service's own).
    """
    location = _location(tenant, place, services)
    conn = await asyncpg.connect(migrator_url, ssl=ssl_context)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', '*', true)")
            if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{TENANCY}.tenants"):
                return False
            before = await conn.fetchrow(
                f"""SELECT isolation, placement_location FROM {TENANCY}.tenants
                     WHERE tenant_id = $1 FOR UPDATE""",  # noqa: S608 - constant schema
                tenant,
            )
            await conn.execute(
                f"""UPDATE {TENANCY}.tenants
                       SET isolation = $2, placement_location = $3,
                           placed_at = coalesce(placed_at, now()),
                           placement_error = '', placement_retry_at = NULL
                     WHERE tenant_id = $1""",  # noqa: S608 - constant schema
                tenant,
                str(place.tier),
                location,
            )
            if before is not None and (before["isolation"], before["placement_location"]) != (
                str(place.tier),
                location,
            ):
                await _announce_move(conn, tenant, before["isolation"], place, location)
    finally:
        await conn.close()
    return True


async def _announce_move(
    conn: asyncpg.Connection, tenant: str, previous: str, place: Place, location: str
) -> None:
    moved = ev.TenantMoved(
        tenant_id=tenant,
        isolation=str(place.tier),
        previous_isolation=previous,
        location=location,
    )
    moved.at.GetCurrentTime()
    # The outbox tenancy's relay publishes from: its own schema's.
    await conn.execute(f"SET LOCAL search_path TO {TENANCY}")
    await write_event(conn, Envelope.of(moved, source=TENANCY_SOURCE, tenant_id=tenant))


async def _report(
    conn: asyncpg.Connection,
    tenant: str,
    location: str | None,
    error: str,
    retry_in: float | None,
) -> None:
    async with conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', '*', true)")
        await conn.execute(
            f"""UPDATE {TENANCY}.tenants
                   SET placed_at = CASE WHEN $2 THEN now() END,
                       placement_location = $3, placement_error = $4,
                       placement_attempts = placement_attempts + 1,
                       placement_retry_at = now() + make_interval(secs => $5)
                 WHERE tenant_id = $1 AND placed_at IS NULL""",  # noqa: S608 - constant schema
            tenant,
            location is not None,
            location or "",
            error,
            retry_in,
        )


@dataclass(frozen=True)
class Dropped:
    """One deleted tenant whose place the pass dropped, or why not."""

    tenant_id: str
    # The bridge schemas or the silo database dropped (or already gone).
    dropped: tuple[str, ...]
    error: str = ""


# A tenant whose place the placer should drop: deleted, and its place not yet dropped.
# Not only placed ones: a place half made before a failure goes too (IF EXISTS);
# not only bridge and silo ones: a pool tenant may have been moved to either.
_TO_DROP = """state = 'deleted' AND placement_dropped_at IS NULL"""
# ... and not backing off after a failed drop.
_DROP_DUE = f"""{_TO_DROP}
          AND (placement_retry_at IS NULL OR placement_retry_at <= now())"""


async def drop_deleted(
    admin_url: str,
    migrator_url: str,
    services: Mapping[str, str | None],
    *,
    limit: int = 10,
    backoff: Backoff | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> list[Dropped]:
    """Drops the place of up to `limit` tenants tenancy has deleted (any tier: moves change it).

    `deleted` is final in tenancy (no restore leaves it) and is reached only
    once every service reported the tenant's rows deleted; the state is read
    again under the tenant's lock, right before anything is dropped. A
    failed drop is tried again after `backoff`, as a failed placement is.
    """
    conn = await asyncpg.connect(migrator_url, ssl=ssl_context)
    done: list[Dropped] = []
    try:
        async for tenant in _locked_tenants(conn, _DROP_DUE, "tenant_id", limit):
            due = await _to_drop(conn, tenant)
            if due is not None:
                done.append(
                    await _drop_one(
                        conn,
                        (admin_url, migrator_url),
                        (tenant, due),
                        services,
                        backoff=backoff or Backoff(),
                        tls=ssl_context,
                    )
                )
    finally:
        await conn.close()
    return done


async def _to_drop(conn: asyncpg.Connection, tenant: str) -> int | None:
    """The tenant's failed drops so far, if its place is (still) due to go."""
    async with conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', '*', true)")
        row = await conn.fetchrow(
            f"""SELECT placement_drop_failures FROM {TENANCY}.tenants
                 WHERE tenant_id = $1 AND {_DROP_DUE}""",  # noqa: S608 - constants
            tenant,
        )
    return None if row is None else int(row["placement_drop_failures"])


async def _drop_one(
    conn: asyncpg.Connection,
    urls: tuple[str, str],
    due: tuple[str, int],
    services: Mapping[str, str | None],
    *,
    backoff: Backoff,
    tls: ssl.SSLContext | None,
) -> Dropped:
    admin_url, migrator_url = urls
    tenant, failures = due
    try:
        dropped = await drop_place(admin_url, migrator_url, tenant, services, ssl_context=tls)
    except (PorticoError, asyncpg.PostgresError, OSError) as exc:
        # Tried again later: every step is idempotent.
        error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        retry_in = backoff.delay(failures + 1)
        log.warning(
            "dropping a deleted tenant's place failed",
            extra={"tenant_id": tenant, "error": error, "retry_in_seconds": round(retry_in, 3)},
        )
        await _report_drop(conn, tenant, error, retry_in)
        return Dropped(tenant, (), error)
    await _report_drop(conn, tenant, "", None)
    return Dropped(tenant, tuple(dropped))


async def _report_drop(
    conn: asyncpg.Connection, tenant: str, error: str, retry_in: float | None
) -> None:
    async with conn.transaction():
        await conn.execute("SELECT set_config('app.tenant_id', '*', true)")
        await conn.execute(
            f"""UPDATE {TENANCY}.tenants
                   SET placement_dropped_at = CASE WHEN $2 = '' THEN now() END,
                       placement_drop_error = $2,
                       placement_drop_failures = placement_drop_failures
                                                 + CASE WHEN $2 = '' THEN 0 ELSE 1 END,
                       placement_retry_at = now() + make_interval(secs => $3)
                 WHERE tenant_id = $1 AND {_TO_DROP}""",  # noqa: S608 - constants
            tenant,
            error,
            retry_in,
        )


async def run_placer(
    admin_url: str,
    migrator_url: str,
    services: Mapping[str, str | None],
    stop: asyncio.Event,
    *,
    every_seconds: float = 1.0,
    backoff: Backoff | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Places waiting tenants and drops deleted ones' places every `every_seconds`, until
    `stop` is set; failed placements and drops are tried again after `backoff`."""
    while not stop.is_set():
        try:
            for placed in await place_pending(
                admin_url, migrator_url, services, backoff=backoff, ssl_context=ssl_context
            ):
                if placed.place is not None:
                    log.info(
                        "tenant placed",
                        extra={"tenant_id": placed.tenant_id, "tier": str(placed.place.tier)},
                    )
            for dropped in await drop_deleted(
                admin_url, migrator_url, services, backoff=backoff, ssl_context=ssl_context
            ):
                if not dropped.error:
                    log.info(
                        "deleted tenant's place dropped",
                        extra={"tenant_id": dropped.tenant_id, "dropped": list(dropped.dropped)},
                    )
        except (PorticoError, asyncpg.PostgresError, OSError) as exc:
            log.warning("the placer's pass failed", extra={"error": f"{type(exc).__name__}: {exc}"})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_seconds)
