"""A service's process: infrastructure handles, the gRPC server, and shutdown.

`Runtime.start` connects to PostgreSQL as the service's own role (and
refuses a privileged one, or a schema that lacks migrations: the migrator
applies them beforehand, `python -m portico_common.dbsetup migrate`) and to
NATS, and creates the streams; `serve` runs the gRPC server, the outbox relay, event
consumers and background loops until SIGTERM/SIGINT, then drains them:
health goes NOT_SERVING, in-flight RPCs get the grace period, consumers
finish their batch, connections close.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import ssl
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import grpc
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from portico_common.clock import Clock, SystemClock
from portico_common.db import (
    Database,
    SiloPools,
    create_pool,
    database_url,
    platform_role,
    platform_url,
)
from portico_common.dependency_health import (
    DEPENDENCY_NAMES,
    LIVENESS,
    DependencyHealth,
    ProbeSettings,
)
from portico_common.errors import ConfigurationError, DatabaseSetupError, TlsConfigError
from portico_common.events.bus import StreamSettings, check_streams, connect, ensure_streams
from portico_common.events.consumer import ConsumerSettings, EventConsumer, Subscription
from portico_common.events.dead_letters import DeadLetterQueue
from portico_common.events.nats_permissions import inbox_prefix
from portico_common.events.outbox import OutboxRelay
from portico_common.events.topology import tenant_data_services
from portico_common.grpc.dead_letters import dead_letter_servicer
from portico_common.grpc.denials import PgDenialLog
from portico_common.grpc.idempotency import IdempotencyStore
from portico_common.grpc.interceptor import PorticoServerInterceptor
from portico_common.grpc.jwks import jwks_fetcher
from portico_common.grpc.registration import Servicer, register_servicers
from portico_common.grpc.service_tokens import ServiceIdentity, ServiceTokens, grpc_token_issuer
from portico_common.grpc.tenant_caps import TenantConcurrency
from portico_common.grpc.tokens import TokenVerifier
from portico_common.logs import configure_logging
from portico_common.metrics import serve_metrics
from portico_common.migrate import require_migrated
from portico_common.provision import check_platform_role, check_service_role
from portico_common.retention import RetentionRule, retention_job
from portico_common.settings import ServiceSettings
from portico_common.tenant_deletion import (
    ExtraDeletion,
    tenancy_reporter,
    tenant_deletion_subscription,
)
from portico_common.tenant_status import (
    RefusedTenants,
    Snapshot,
    TenantStatusWatcher,
    tenancy_address,
    tenancy_snapshot,
)
from portico_common.tls import (
    GrpcClientTls,
    database_ssl_context,
    grpc_client_tls,
    grpc_server_credentials,
    nats_ssl_context,
)
from portico_common.tracing import configure_tracing

log = logging.getLogger(__name__)

Background = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
# Awaited after start-up before health turns SERVING (an in-memory view being built).
Readiness = Callable[[], Awaitable[object]]


@dataclass
class Runtime:
    """Connected infrastructure of one service process."""

    service: str
    settings: ServiceSettings
    pool: asyncpg.Pool
    db: Database
    nc: NatsClient
    js: JetStreamContext
    relay: OutboxRelay
    clock: Clock = field(default_factory=SystemClock)
    # This service's own token for calls to other services (None: no identity set).
    service_tokens: ServiceTokens | None = None
    # TLS for calls to other services (`service_channel(target, tokens, rt.grpc_tls)`).
    grpc_tls: GrpcClientTls | None = None

    @classmethod
    async def start(
        cls,
        service: str,
        settings: ServiceSettings,
        migrations_package: str | None,
        *,
        clock: Clock | None = None,
        stream_settings: StreamSettings | None = None,
    ) -> Runtime:
        # Every TLS file is read before anything connects: a bad one fails the start at once.
        grpc_tls = client_tls_for(settings)
        database_tls = database_ssl_context(settings)
        nats_tls = nats_ssl_context(settings)
        dsn = settings.database_url.get_secret_value()
        platform_dsn = settings.platform_database_url.get_secret_value() or platform_url(
            dsn, service
        )
        bouncer = settings.database_behind_pgbouncer
        pool = await create_pool(
            dsn,
            service,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            ssl_context=database_tls,
            behind_pgbouncer=bouncer,
        )
        try:
            await check_database(pool, service, migrations_package)
            platform = await open_platform_pool(
                platform_dsn,
                service,
                settings.db_platform_pool_max,
                database_tls,
                behind_pgbouncer=bouncer,
            )
        except BaseException:
            await pool.close()
            raise
        db = Database(
            pool,
            service,
            platform=platform,
            silos=SiloPools(
                partial(database_url, dsn),
                service,
                ssl_context=database_tls,
                behind_pgbouncer=bouncer,
            ),
            platform_silos=SiloPools(
                partial(database_url, platform_dsn),
                service,
                ssl_context=database_tls,
                behind_pgbouncer=bouncer,
            ),
            behind_pgbouncer=bouncer,
        )
        nc = await connect(
            settings.nats_url,
            name=f"portico-{service}",
            nkey_seed=settings.nats_nkey_seed.get_secret_value(),
            inbox_prefix=inbox_prefix(service),
            tls=nats_tls,
            tls_handshake_first=settings.nats_tls_handshake_first,
        )
        js = nc.jetstream()
        if settings.nats_provisioned:
            await check_streams(js)
        else:
            await ensure_streams(
                js, stream_settings or StreamSettings(replicas=settings.nats_stream_replicas)
            )
        # The relay is a platform job: it runs as the platform role.
        relay = OutboxRelay(
            platform,
            listen_url(settings, platform_dsn),
            service,
            js,
            poll_seconds=settings.outbox_poll_seconds,
            ssl_context=database_tls,
            db=db,
        )
        db.on_silo_commit = relay.kick
        return cls(
            service,
            settings,
            db.pool,
            db,
            nc,
            js,
            relay,
            clock or SystemClock(),
            service_tokens_for(settings, grpc_tls),
            grpc_tls,
        )

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.nc.drain()
        await self.db.close()


def client_tls_for(settings: ServiceSettings) -> GrpcClientTls | None:
    """The TLS of the service's calls to others (auth's keys and tokens above all).

    A service that serves TLS but would call auth in plaintext is refused: it
    would take the keys that decide who may call it from whoever answers.
    """
    tls = grpc_client_tls(settings)
    if tls is None and settings.grpc_tls_cert_file and settings.auth_target:
        raise TlsConfigError(
            "PORTICO_GRPC_TLS_CERT_FILE is set but PORTICO_GRPC_TLS_CA_FILE is not: auth's"
            " signing keys (JWKS) would be fetched over plaintext from PORTICO_AUTH_TARGET"
        )
    if tls is None and settings.auth_target:
        log.warning(
            "auth's signing keys are fetched over plaintext; set PORTICO_GRPC_TLS_CA_FILE"
            " (portico up does) so only auth's certificate is trusted",
            extra={"auth_target": settings.auth_target},
        )
    return tls


def require_authentication(settings: ServiceSettings, verifier: TokenVerifier | None) -> None:
    """Refuses to serve without token checks unless the unsafe mode is asked for by name."""
    if verifier is not None:
        return
    if not settings.unsafe_no_auth:
        raise ConfigurationError(
            "PORTICO_AUTH_TARGET is not set, so no caller's token would be checked: set it to"
            " the auth service's host:port, or set PORTICO_UNSAFE_NO_AUTH=true to serve without"
            " authentication (tests only: every caller may then do everything)"
        )
    log.warning(
        "serving WITHOUT authentication (PORTICO_UNSAFE_NO_AUTH): every caller may do"
        " everything; never run like this outside tests"
    )


def token_verifier_for(
    settings: ServiceSettings,
    verifier: TokenVerifier | None,
    tls: GrpcClientTls | None = None,
) -> TokenVerifier | None:
    """The verifier of callers' tokens: the given one, else one reading auth's JWKS.

    With `tls` (the runtime's `grpc_tls`) the keys come only from a server
    whose certificate the configured CA signed.
    """
    if verifier is None and settings.auth_target:
        verifier = TokenVerifier(
            jwks_fetcher(settings.auth_target, tls),
            min_refresh_seconds=settings.jwks_min_refresh_seconds,
            stale_seconds=settings.jwks_stale_seconds,
        )
    require_authentication(settings, verifier)
    return verifier


def service_tokens_for(
    settings: ServiceSettings, tls: GrpcClientTls | None = None
) -> ServiceTokens | None:
    """The service's own token source, when it has an identity and knows where auth is."""
    if not (settings.auth_client_id and settings.auth_target):
        return None
    identity = ServiceIdentity(settings.auth_client_id, settings.auth_client_secret)
    return ServiceTokens(identity, grpc_token_issuer(settings.auth_target, tls=tls))


def listen_url(settings: ServiceSettings, platform_dsn: str) -> str:
    """Where the outbox relay LISTENs for other processes' commits ("": it polls)."""
    listen = settings.database_listen_url.get_secret_value()
    if listen or not settings.database_behind_pgbouncer:
        return listen or platform_dsn
    log.info(
        "the outbox relay does not LISTEN through PgBouncer: other processes' events wait"
        " for its poll; PORTICO_DATABASE_LISTEN_URL (straight to PostgreSQL) wakes it at once",
        extra={"poll_seconds": settings.outbox_poll_seconds},
    )
    return ""


async def open_platform_pool(
    dsn: str,
    service: str,
    max_size: int,
    tls: ssl.SSLContext | None,
    *,
    behind_pgbouncer: bool = False,
) -> asyncpg.Pool:
    """The platform role's pool, checked: the only role ALL_TENANTS opens every tenant to."""
    try:
        pool = await create_pool(
            dsn,
            service,
            min_size=1,
            max_size=max_size,
            ssl_context=tls,
            behind_pgbouncer=behind_pgbouncer,
        )
    except asyncpg.InvalidAuthorizationSpecificationError as exc:
        raise DatabaseSetupError(
            f"cannot log in as the platform role {platform_role(service)} ({exc}): provision it"
            " (`python -m portico_common.dbsetup provision`) and give its URL as"
            " PORTICO_PLATFORM_DATABASE_URL, or the request role's password to share"
        ) from None
    try:
        async with pool.acquire() as conn:
            await check_platform_role(conn, service)
    except BaseException:
        await pool.close()
        raise
    return pool


async def check_database(pool: asyncpg.Pool, service: str, migrations_package: str | None) -> None:
    """The pool's role is the service's own, and its schema is fully migrated."""
    async with pool.acquire() as conn:
        await check_service_role(conn, service)
        try:
            await require_migrated(conn, service, migrations_package)
        except asyncpg.InsufficientPrivilegeError as exc:
            raise DatabaseSetupError(
                f"cannot read schema {service} ({exc}): the migrator grants the service's role"
                " its schema when it migrates (`python -m portico_common.dbsetup migrate`)"
            ) from None


def _idempotency_store(rt: Runtime) -> IdempotencyStore:
    return IdempotencyStore(
        rt.db,
        stale_after_seconds=rt.settings.idempotency_stale_seconds,
        ttl_seconds=rt.settings.idempotency_ttl_seconds,
    )


async def serve(
    rt: Runtime,
    *,
    servicers: Sequence[Servicer] = (),
    subscriptions: Sequence[Subscription] = (),
    consumers: Sequence[EventConsumer] = (),
    background: Sequence[Background] = (),
    readiness: Sequence[Readiness] = (),
    verifier: TokenVerifier | None = None,
    ready: Callable[[int], None] | None = None,
    max_message_bytes: int = 4 * 1024 * 1024,
    stop: asyncio.Event | None = None,
    tenant_snapshot: Snapshot | None = None,
    retained_tables: Sequence[str] = (),
    extra_deletion: ExtraDeletion | None = None,
    retention: Sequence[RetentionRule] = (),
    heavy_methods: Sequence[str] = (),
) -> None:
    """Runs the service until a termination signal, then shuts down gracefully.

    `tenant_snapshot` loads the tenants whose tokens are refused (tenancy reads
    its own database; the others call tenancy at `tenancy_target`).
    `retained_tables` are kept when the service deletes a tenant's data;
    `extra_deletion` deletes what the tenant owns beyond its `tenant_id` rows.
    `retention` adds the service's own logs to the kernel tables' purges.
    `heavy_methods` (full gRPC method names) run at most
    `heavy_rpc_tenant_concurrency` calls per tenant at once; more are refused.
    """
    settings = rt.settings
    try:
        verifier = token_verifier_for(settings, verifier, rt.grpc_tls)
    except ConfigurationError:
        await rt.close()
        raise
    refused, watcher, subscriptions = await _tenant_lifecycle(
        rt, tenant_snapshot, subscriptions, retained_tables, extra_deletion
    )
    interceptor = PorticoServerInterceptor(
        rt.service,
        verifier=verifier,
        idempotency=_idempotency_store(rt),
        tenant_caps=TenantConcurrency(
            rt.service, dict.fromkeys(heavy_methods, settings.heavy_rpc_tenant_concurrency)
        ),
        denials=PgDenialLog(rt.db, rt.service),
        refused=refused,
    )
    server = grpc.aio.server(
        interceptors=[interceptor],
        options=[
            # Without this, two processes binding the same port both succeed
            # and share it; a taken port must fail the bind instead.
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ],
    )
    dead_letters = DeadLetterQueue(rt.js, rt.db, rt.service)
    names = register_servicers(server, [*servicers, dead_letter_servicer(dead_letters)])
    health_servicer = health_aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if settings.grpc_reflection:
        # A development aid (grpcurl): it describes every RPC and message to anyone
        # who can connect, so it is off unless asked for (`portico up` asks).
        reflection.enable_server_reflection(
            [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
    port, tls = bind(server, settings)
    metrics_port = -1
    if settings.metrics_port >= 0:
        metrics_port = serve_metrics(settings.metrics_port, settings.grpc_host)
        log.info("metrics listening", extra={"port": metrics_port})

    # Tests running a service in-process stop it by setting `stop`.
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    consumers = await _set_up_consumers(rt, consumers, subscriptions, dead_letters)
    tasks = [asyncio.create_task(rt.relay.run(stop), name="outbox-relay")]
    tasks.append(asyncio.create_task(watcher.run(stop), name="tenant-status"))
    tasks += [asyncio.create_task(c.run(stop), name=f"consumer-{c.durable}") for c in consumers]
    tasks += [
        asyncio.create_task(job(stop), name=getattr(job, "__name__", "job"))
        for job in [*background, *retention_job(rt.db, settings, retention)]
    ]

    # Health stays NOT_SERVING (grpc's default for "" is SERVING) until whatever
    # the answers depend on is ready, so nobody is sent to a replica that would
    # answer wrong; `ready` and the ready file wait for it too.
    dependencies = await _dependency_health(rt, health_servicer, ["", *names])
    await server.start()
    log.info("listening", extra={"service": rt.service, "port": port, "tls": tls})
    stopper = asyncio.create_task(stop.wait())
    if await _warm_up(readiness, [stopper, *tasks]):
        # Everything alive now (modules, descriptors, the warmed caches) lives as long
        # as the process: collected once, then frozen, a full collection no longer
        # walks it (~80,000 objects in rollout: a full collection took 35 ms on the
        # shared dev machine, during which no RPC is answered; frozen, under 0.1 ms).
        gc.collect()
        gc.freeze()
        # From here on health follows PostgreSQL and NATS: NOT_SERVING while the
        # database is unreachable, SERVING again once it answers.
        tasks.append(await dependencies.start(stop))
        log.info("serving", extra={"service": rt.service, "port": port, "tls": tls})
        _announce(settings, ready, grpc_port=port, metrics_port=metrics_port)
    done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        if task is not stopper and task.exception() is not None:
            log.error(
                "background task died", extra={"task": task.get_name()}, exc_info=task.exception()
            )
    log.info("shutting down", extra={"service": rt.service})
    stop.set()
    await health_servicer.enter_graceful_shutdown()
    await server.stop(settings.shutdown_grace_seconds)
    await asyncio.wait(tasks, timeout=settings.shutdown_grace_seconds)
    for task in tasks:
        task.cancel()
    await rt.close()


async def _set_up_consumers(
    rt: Runtime,
    consumers: Sequence[EventConsumer],
    subscriptions: Sequence[Subscription],
    dead_letters: DeadLetterQueue,
) -> list[EventConsumer]:
    """The given consumers and one per subscription, set up; their dead letters' API knows them."""
    delivery = ConsumerSettings(
        max_deliver=rt.settings.max_deliver,
        ack_wait_seconds=rt.settings.event_ack_wait_seconds,
        create=not rt.settings.nats_provisioned,
    )
    every = [
        *consumers,
        *(EventConsumer(rt.js, rt.db, s.durable, s.handlers, delivery) for s in subscriptions),
    ]
    for consumer in every:
        await consumer.setup()
    dead_letters.attach(every)
    return every


async def _tenant_lifecycle(
    rt: Runtime,
    snapshot: Snapshot | None,
    subscriptions: Sequence[Subscription],
    retained_tables: Sequence[str],
    extra_deletion: ExtraDeletion | None,
) -> tuple[RefusedTenants, TenantStatusWatcher, list[Subscription]]:
    """The refused tenants and their watcher (subscribed), and the deletion saga's consumer."""
    settings = rt.settings
    refused = RefusedTenants(allow_reads=settings.suspended_tenant_reads)
    address = tenancy_address(settings.tenancy_target, settings.tenancy_target_file)
    if snapshot is None and address is not None:
        snapshot = tenancy_snapshot(address, rt.service_tokens, rt.grpc_tls)
    watcher = TenantStatusWatcher(
        refused, rt.nc, snapshot, resync_seconds=settings.tenant_status_resync_seconds
    )
    await watcher.subscribe()
    subscriptions = list(subscriptions)
    # Without tenancy's address a service could not report back: it takes no part then.
    if address is not None and rt.service in tenant_data_services():
        report = tenancy_reporter(address, rt.service_tokens, rt.grpc_tls)
        subscriptions.append(
            tenant_deletion_subscription(rt.service, report, retained_tables, extra_deletion)
        )
    return refused, watcher, subscriptions


async def _warm_up(readiness: Sequence[Readiness], running: Sequence[asyncio.Task[Any]]) -> bool:
    """Awaits every readiness check; False if the service stopped or a task ended first."""
    if not readiness:
        return True
    warming = asyncio.ensure_future(asyncio.gather(*(check() for check in readiness)))
    await asyncio.wait([warming, *running], return_when=asyncio.FIRST_COMPLETED)
    if not warming.done():
        warming.cancel()
        return False
    if warming.exception() is not None:
        log.error("readiness check failed", exc_info=warming.exception())
        return False
    return True


async def _dependency_health(
    rt: Runtime, servicer: health_aio.HealthServicer, ready_names: Sequence[str]
) -> DependencyHealth:
    """Health before warm-up (not ready, but alive) and the probe that takes it over after."""

    async def set_health(name: str, up: bool) -> None:
        status = health_pb2.HealthCheckResponse
        await servicer.set(name, status.SERVING if up else status.NOT_SERVING)

    for name in [*ready_names, *DEPENDENCY_NAMES.values()]:
        await set_health(name, False)
    # Alive as soon as it listens: a liveness probe restarts a hung process,
    # never one that waits for its database.
    await set_health(LIVENESS, True)

    return DependencyHealth(
        rt.pool,
        lambda: bool(rt.nc.is_connected),
        ready_names,
        set_health,
        ProbeSettings(interval_seconds=rt.settings.health_probe_seconds),
    )


def _announce(settings: ServiceSettings, ready: Callable[[int], None] | None, **ports: int) -> None:
    """Tells the in-process caller (`ready`) and the supervisor (the ready file) it serves."""
    if ready is not None:
        ready(ports["grpc_port"])
    if settings.ready_file:
        write_ready_file(Path(settings.ready_file), **ports)


def bind(server: grpc.aio.Server, settings: ServiceSettings) -> tuple[int, str]:
    """Binds the gRPC port, TLS-only when a certificate is set; the port and "off"/"on"/"mutual"."""
    address = f"{settings.grpc_host}:{settings.grpc_port}"
    credentials = grpc_server_credentials(settings)
    if credentials is None:
        port, tls = server.add_insecure_port(address), "off"
    else:
        port = server.add_secure_port(address, credentials)
        tls = "mutual" if settings.grpc_tls_client_ca_file else "on"
    if port == 0:
        raise RuntimeError(f"cannot bind gRPC port {address}")
    return port, tls


def write_ready_file(path: Path, **ports: int) -> None:
    """Tells whoever started this process which ports it bound (it may have asked for 0).

    Written whole under a temporary name and renamed, so a reader never sees half of it.
    """
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    scratch.write_text(json.dumps({**ports, "pid": os.getpid()}))
    scratch.replace(path)


def bootstrap_process(service: str, settings: ServiceSettings) -> None:
    """Process-wide set-up every service's main() starts with."""
    configure_logging(service, settings.log_level, settings.log_format)
    configure_tracing(f"portico-{service}")
