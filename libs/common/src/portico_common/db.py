"""PostgreSQL access: the pool, and transactions scoped to one tenant.

Each service connects as its own login role, `portico_<schema>`: no
superuser, no BYPASSRLS, member of no other role and owner of nothing (the
migrator owns the schema and its tables). Row-level security therefore binds
every statement the service runs, with no role switch. Every transaction sets
`app.tenant_id` with `is_local => true`, so nothing leaks to the next user of
the connection; a transaction that forgets its tenant sees no tenant rows.

ALL_TENANTS ("*") is not the request role's to use: the policies open every
tenant's rows to it only for a member of `portico_platform`, which the
service's request role never is. A `Database` therefore holds two pools: the
request pool (`portico_<svc>`) for tenant transactions, and the platform pool
(`portico_<svc>_platform`) that every ALL_TENANTS transaction goes to.

A transaction's outcome is its COMMIT's: a connection that cannot be reset
when it goes back to the pool (PostgreSQL went away just after the commit) is
closed by the pool and logged, and does not turn a committed request into an
error its caller would retry. A connection the pool hands out that cannot
even begin a transaction because the server dropped it in the middle of a
message (PostgreSQL killed under it) is closed, and the request answered as
PostgreSQL's outage: it is retried, not reported as a bug.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from portico_common.errors import UnavailableError
from portico_common.idempotency_effects import current_claim, record_effect
from portico_common.outages import POSTGRESQL, DependencyUnavailableError
from portico_common.tenants import ALL_TENANTS

log = logging.getLogger(__name__)

# What a transaction hands out: a pooled connection.
Connection = asyncpg.Connection | PoolConnectionProxy

# Owns every service schema and runs the migrations; no service connects as it.
MIGRATOR_ROLE = "portico_migrator"
# The group (NOLOGIN, no privileges of its own) whose members the policies let
# use ALL_TENANTS: the services' platform roles and the migrator, never a
# service's request role.
PLATFORM_GROUP = "portico_platform"
# The advisory lock provisioning and migrating both hold: run at once (replicas,
# tests), they would update the same catalog rows ("tuple concurrently updated").
SETUP_LOCK = "portico:migrate"

__all__ = [
    "ALL_TENANTS",
    "MIGRATOR_ROLE",
    "PLATFORM_GROUP",
    "POOL",
    "SETUP_LOCK",
    "Connection",
    "Database",
    "Place",
    "PlacementError",
    "SiloPools",
    "Tier",
    "create_pool",
    "database_url",
    "open_database",
    "platform_place",
    "platform_role",
    "platform_url",
    "service_role",
]


def service_role(schema: str) -> str:
    """The login role a service whose schema is `schema` connects as."""
    return f"portico_{schema}"


def platform_role(schema: str) -> str:
    """The login role of a service's platform jobs (schedulers, the relay, ALL_TENANTS)."""
    return f"portico_{schema}_platform"


def platform_url(url: str, schema: str) -> str:
    """The request role's URL logging in as the platform role instead, same password.

    The default when no platform URL is configured: `provision` gives the
    platform role the request role's password unless told another.
    """
    parts = urlsplit(url)
    credentials, at, host = parts.netloc.rpartition("@")
    password = credentials.partition(":")[2] if at else ""
    secret = f":{password}" if password else ""
    netloc = f"{quote(platform_role(schema), safe='')}{secret}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


async def create_pool(
    dsn: str,
    schema: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    ssl_context: ssl.SSLContext | None = None,
    behind_pgbouncer: bool = False,
) -> asyncpg.Pool:
    """A pool whose connections resolve unqualified names in the service's schema.

    With `ssl_context` (`tls.database_ssl_context`) every connection requires
    TLS and checks the server's certificate and name; without, the URL decides.

    `behind_pgbouncer`: the URL is a PgBouncer in transaction pooling, where
    consecutive transactions of one connection may run on different server
    connections. Named prepared statements would be missing on the next one,
    so none are cached; PgBouncer refuses `search_path` as a startup
    parameter, so `Database` sets it in each transaction instead; and the
    pool's reset on release (RESET ALL and the like) is not sent: it would run
    on whichever server connection is free, not the one the transaction had,
    so it cleans nothing (what a transaction sets must end with it).
    """
    server_settings = {"application_name": f"portico-{schema}"}
    if not behind_pgbouncer:
        server_settings["search_path"] = f"{schema},public"
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        ssl=ssl_context,
        server_settings=server_settings,
        statement_cache_size=0 if behind_pgbouncer else 100,  # 100: asyncpg's default
        reset=_no_reset if behind_pgbouncer else None,
    )
    if pool is None:  # pragma: no cover - asyncpg returns None only without awaiting
        raise RuntimeError("asyncpg returned no pool")
    return pool


async def _no_reset(conn: asyncpg.Connection) -> None:
    """A released connection behind PgBouncer is handed on as it is (`create_pool`)."""


class Tier(StrEnum):
    """How a tenant's rows are kept apart from other tenants' (docs/tenancy-isolation.md)."""

    POOL = "pool"  # the shared tables, under row-level security
    BRIDGE = "bridge"  # a schema of its own in the service's database
    SILO = "silo"  # a database of its own


@dataclass(frozen=True)
class Place:
    """Where rows live: the service's schema (pool), a tenant's schema, or a tenant's database."""

    tier: Tier = Tier.POOL
    # bridge: the schema; silo: the database; pool: "".
    location: str = ""


POOL = Place()

# Where ALL_TENANTS transactions open: the shared tables, unless a platform
# pass over every place (`portico_common.places.each_place`) set another.
platform_place: ContextVar[Place] = ContextVar("portico_platform_place", default=POOL)


# What connecting to a silo database raises once it is being dropped or is gone.
_SILO_GONE = (asyncpg.InvalidCatalogNameError, asyncpg.ObjectNotInPrerequisiteStateError)


class PlacementError(UnavailableError):
    """A tenant's place changed under the transaction more often than it could follow."""


class SiloPools:
    """One small pool per silo database, opened on first use; the least recently used closes.

    `dsn_for(database)` is the URL of the same role on that database. At most
    `limit` pools stay open; a pool pushed out closes once its connections are
    back, so a transaction running on it finishes undisturbed.
    """

    def __init__(
        self,
        dsn_for: Callable[[str], str],
        schema: str,
        *,
        limit: int = 8,
        max_size: int = 2,
        ssl_context: ssl.SSLContext | None = None,
        behind_pgbouncer: bool = False,
    ) -> None:
        self._dsn_for = dsn_for
        self._behind_pgbouncer = behind_pgbouncer
        self._schema = schema
        self._limit = limit
        self._max_size = max_size
        self._ssl = ssl_context
        self._pools: OrderedDict[str, asyncpg.Pool] = OrderedDict()
        self._opening: dict[str, asyncio.Future[asyncpg.Pool]] = {}
        self._closing: set[asyncio.Task[None]] = set()

    async def get(self, database: str) -> asyncpg.Pool:
        pool = self._pools.get(database)
        if pool is not None:
            self._pools.move_to_end(database)
            return pool
        opening = self._opening.get(database)
        if opening is None:  # one opening per database, however many ask at once
            opening = asyncio.ensure_future(
                create_pool(
                    self._dsn_for(database),
                    self._schema,
                    min_size=0,
                    max_size=self._max_size,
                    ssl_context=self._ssl,
                    behind_pgbouncer=self._behind_pgbouncer,
                )
            )
            self._opening[database] = opening
            try:
                pool = await asyncio.shield(opening)
            finally:
                del self._opening[database]
            self._pools[database] = pool
            while len(self._pools) > self._limit:
                _, evicted = self._pools.popitem(last=False)
                task = asyncio.create_task(evicted.close())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
            return pool
        return await asyncio.shield(opening)

    def open_databases(self) -> list[str]:
        return list(self._pools)

    def discard(self, database: str) -> None:
        """Forgets the pool of a database that is gone (a deleted tenant's silo, dropped).

        Its connections were ended by the drop: nothing is left to wait for.
        """
        pool = self._pools.pop(database, None)
        if pool is not None:
            pool.terminate()

    async def close(self) -> None:
        pools, self._pools = list(self._pools.values()), OrderedDict()
        await asyncio.gather(*(p.close() for p in pools), *self._closing)


class Database:
    """Transactions scoped to one tenant, in the tenant's place; or to all (the platform pool).

    A tenant's transaction starts on the request pool; `enter_tenant` (one
    round trip) sets its tenant, waits out a move of the tenant between
    tiers, and reads its place: pool goes on as it is, bridge has set the
    search_path (transaction-local) to the tenant's schema, silo goes to the
    tenant's database, where the same check runs again. Which silo a tenant
    is in is remembered, and re-checked inside the silo on every transaction.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        *,
        platform: asyncpg.Pool | None = None,
        silos: SiloPools | None = None,
        platform_silos: SiloPools | None = None,
        behind_pgbouncer: bool = False,
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.platform = platform
        self.silos = silos
        self.platform_silos = platform_silos
        self._enter = f"SELECT tier, location FROM {schema}.enter_tenant($1)"  # noqa: S608 - the service's schema
        self._silo_of: dict[str, str] = {}
        # Behind PgBouncer the pools' connections carry no search_path of their
        # own (`create_pool`): each transaction sets the service's, locally,
        # before anything (enter_tenant included) resolves a name.
        self._local_search_path = (
            f"SELECT set_config('search_path', '{schema},public', true)" if behind_pgbouncer else ""
        )
        # Told after each commit in a silo database (the outbox relay: no NOTIFY reaches it).
        self.on_silo_commit: Callable[[Place], None] | None = None

    def pool_for(self, tenant_id: str) -> asyncpg.Pool:
        """The pool whose role may run `tenant_id`'s transaction (before its place is known)."""
        if tenant_id != ALL_TENANTS:
            return self.pool
        if self.platform is None:
            raise RuntimeError(
                "an ALL_TENANTS transaction needs the platform pool (its role is the only one"
                f" the policies open every tenant to): Database({self.schema!r}, platform=...)"
            )
        return self.platform

    @asynccontextmanager
    async def transaction(self, tenant_id: str) -> AsyncIterator[Connection]:
        """A transaction that can see only `tenant_id`'s rows (ALL_TENANTS: every row).

        ALL_TENANTS covers one place: the service's own schema (the shared
        tables), or the place of the platform pass running (`each_place`).
        The others are reached place by place (`places`, `platform_transaction`).
        """
        if not tenant_id:
            raise ValueError("a transaction needs a tenant id (or ALL_TENANTS)")
        if tenant_id == ALL_TENANTS:
            async with self.platform_transaction(platform_place.get()) as conn:
                yield conn
            return
        silo = self._silo_of.get(tenant_id)
        for _ in range(3):
            pool = self.pool if silo is None else await self._silo_pool(self.silos, silo)
            try:
                conn = await pool.acquire()
            except _SILO_GONE:
                if silo is None or self.silos is None:
                    raise
                # The tenant's silo was dropped (its deletion) after this process
                # last found it there: ask the main database where it is now.
                self.silos.discard(silo)
                self._silo_of.pop(tenant_id, None)
                silo = None
                continue
            begun = False
            try:
                entered = False
                async with conn.transaction():
                    begun = True
                    await self._set_search_path(conn)
                    tier, location = await conn.fetchrow(self._enter, tenant_id) or ("", "")
                    home = location if tier == Tier.SILO else None
                    if home == silo:
                        yield conn
                        await _record_claim(conn)
                        entered = True
                if entered:
                    if home is not None and self.on_silo_commit is not None:
                        self.on_silo_commit(Place(Tier.SILO, home))
                    return
            except asyncpg.InternalClientError as exc:
                _raise_if_dropped_while_idle(conn, begun, exc)
                raise
            finally:
                await _release(pool, conn)
            # The tenant lives elsewhere (placed in or moved out of a silo): follow it.
            silo = home
            if silo is None:
                self._silo_of.pop(tenant_id, None)
            else:
                self._silo_of[tenant_id] = silo
        raise PlacementError(f"tenant {tenant_id!r} moved while its transaction was opened")

    async def places(self) -> list[Place]:
        """Every place of this service's rows: the shared schema, each bridge schema, each silo."""
        async with self.platform_transaction(POOL) as conn:
            rows = await conn.fetch(
                f"SELECT DISTINCT tier, location FROM {self.schema}.placements"  # noqa: S608 - the service's schema
                " WHERE tier <> 'pool' ORDER BY tier, location"
            )
        return [POOL, *(Place(Tier(r["tier"]), r["location"]) for r in rows)]

    @asynccontextmanager
    async def platform_transaction(self, place: Place) -> AsyncIterator[Connection]:
        """An ALL_TENANTS transaction, as the platform role, in one place."""
        pool = self.pool_for(ALL_TENANTS)
        if place.tier is Tier.SILO:
            pool = await self._silo_pool(self.platform_silos, place.location)
        try:
            conn = await pool.acquire()
        except _SILO_GONE:
            # A pass listed the place before its tenant's silo was dropped: the
            # pass fails for that place, and the pool does not linger.
            if place.tier is Tier.SILO and self.platform_silos is not None:
                self.platform_silos.discard(place.location)
            raise
        begun = False
        try:
            async with conn.transaction():
                begun = True
                await self._set_search_path(conn)
                await conn.execute("SELECT set_config('app.tenant_id', $1, true)", ALL_TENANTS)
                if place.tier is Tier.BRIDGE:
                    await conn.execute(
                        "SELECT set_config('search_path', format('%I, public', $1::text), true)",
                        place.location,
                    )
                yield conn
                await _record_claim(conn)
        except asyncpg.InternalClientError as exc:
            _raise_if_dropped_while_idle(conn, begun, exc)
            raise
        finally:
            await _release(pool, conn)

    async def _set_search_path(self, conn: Connection) -> None:
        if self._local_search_path:
            await conn.execute(self._local_search_path)

    async def _silo_pool(self, silos: SiloPools | None, database: str) -> asyncpg.Pool:
        if silos is None:
            raise PlacementError(
                f"a tenant of {self.schema} lives in database {database!r}, and this process"
                " was given no way to reach silo databases (open_database does)"
            )
        return await silos.get(database)

    async def close(self) -> None:
        await self.pool.close()
        if self.platform is not None:
            await self.platform.close()
        for silos in (self.silos, self.platform_silos):
            if silos is not None:
                await silos.close()


async def _record_claim(conn: Connection) -> None:
    # Inside an RPC called with an idempotency key, the key commits with the effect.
    claim = current_claim.get()
    if claim is not None:
        await record_effect(conn, claim)


async def _release(pool: asyncpg.Pool, conn: PoolConnectionProxy) -> None:
    try:
        await pool.release(conn)
    except Exception as exc:  # noqa: BLE001 - the pool has closed the connection already
        log.warning(
            "a connection could not be reset for reuse and was closed",
            extra={"error": f"{type(exc).__name__}: {exc}"},
        )


async def open_database(
    dsn: str,
    schema: str,
    *,
    platform_dsn: str = "",
    min_size: int = 1,
    max_size: int = 10,
    platform_max_size: int = 4,
    ssl_context: ssl.SSLContext | None = None,
    behind_pgbouncer: bool = False,
) -> Database:
    """The request pool at `dsn` and the platform pool (`platform_dsn`, else derived from `dsn`)."""
    bouncer = behind_pgbouncer
    pool = await create_pool(
        dsn,
        schema,
        min_size=min_size,
        max_size=max_size,
        ssl_context=ssl_context,
        behind_pgbouncer=bouncer,
    )
    platform_dsn = platform_dsn or platform_url(dsn, schema)
    try:
        platform = await create_pool(
            platform_dsn,
            schema,
            min_size=1,
            max_size=platform_max_size,
            ssl_context=ssl_context,
            behind_pgbouncer=bouncer,
        )
    except BaseException:
        await pool.close()
        raise
    return Database(
        pool,
        schema,
        platform=platform,
        silos=SiloPools(
            partial(database_url, dsn), schema, ssl_context=ssl_context, behind_pgbouncer=bouncer
        ),
        platform_silos=SiloPools(
            partial(database_url, platform_dsn),
            schema,
            ssl_context=ssl_context,
            behind_pgbouncer=bouncer,
        ),
        behind_pgbouncer=bouncer,
    )


def database_url(url: str, database: str) -> str:
    """`url` (role, host, parameters) on another database of the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{quote(database, safe='')}"))


# asyncpg's words when a statement finds the protocol still consuming an error
# the server sent unasked (PROTOCOL_ERROR_CONSUME), as a terminated backend does.
_TERMINATED_BETWEEN_STATEMENTS = "another operation (2) is in progress"


def _raise_if_dropped_while_idle(
    conn: Connection, begun: bool, exc: asyncpg.InternalClientError
) -> None:
    """PostgreSQL's outage when the connection was left mid-message by a server that went away.

    BEGIN is the first thing a connection is asked after the pool hands it out;
    "another operation is in progress" there means the server went away under
    it while it idled. Inside a begun transaction the same words are the code's
    own fault (two statements at once on one connection), except when the
    operation in progress is the consumption of an error no statement asked
    for (asyncpg's state 2): PostgreSQL terminating the backend between two
    statements. Either way nothing was sent, so nothing was committed: the
    connection is dropped (the pool opens a fresh one in its place) and the
    caller gets an outage, not an internal error.
    """
    if not begun or _TERMINATED_BETWEEN_STATEMENTS in str(exc):
        conn.terminate()
        raise DependencyUnavailableError(POSTGRESQL) from exc
