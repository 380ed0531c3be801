"""compat's projection of tenancy's quotas and usage, fed from a real JetStream.

The first test runs the whole chain with both services as processes: SetQuota
and an install's Reserve on tenancy over gRPC, rollout.completed on JetStream
(tenancy derives the usage from it), tenancy's outbox relay publishes, compat's
"compat-tenancy" consumer projects, and the resources check reads the projection.
The others run the consumer `build` subscribes in-process to look at ordering
and isolation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import pytest

from portico.events.v1 import events_pb2 as ev
from portico.tenancy.v1 import quotas_pb2 as qpb
from portico.tenancy.v1 import quotas_pb2_grpc as qpb_grpc
from portico.tenancy.v1 import tenancy_pb2 as tpb
from portico.tenancy.v1 import tenancy_pb2_grpc as tpb_grpc
from portico_common.clock import SystemClock
from portico_common.db import Database, create_pool
from portico_common.events.bus import connect, ensure_streams, publish
from portico_common.events.catalog import type_of
from portico_common.events.consumer import EventConsumer
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_common.uow import uow_factory
from portico_compat.adapters.postgres import CompatPgUnitOfWork
from portico_compat.adapters.tenant_resources import PgTenantResourcesRepository
from portico_compat.app.tenant_resources import check_tenant_resources
from portico_compat.bootstrap import Dependencies, build
from portico_compat.domain.resources import Resources, TenantResources
from portico_compat.entrypoints.tenancy_events import TENANCY_DURABLE
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.services import infra_env, running_process

pytestmark = pytest.mark.integration

WAIT = 20.0


async def projected(
    db: Database, tenant: str, done: Callable[[TenantResources], bool]
) -> TenantResources:
    """Polls the projection until `done` holds for what it has for `tenant`."""
    deadline = time.monotonic() + WAIT
    while True:
        async with db.transaction(tenant) as conn:
            known = await PgTenantResourcesRepository(conn).get(tenant)
        if done(known):
            return known
        if time.monotonic() > deadline:
            raise AssertionError(f"projection of {tenant} still {known} after {WAIT}s")
        await asyncio.sleep(0.05)


def both(known: TenantResources) -> bool:
    return known.quota is not None and known.usage is not None


async def test_tenancy_quota_reaches_compats_check_through_jetstream(
    service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> None:
    """SetQuota and usage derived from a completed rollout reach compat; the check uses them."""
    tenancy_url = await service_database_url("tenancy")
    compat_url = await service_database_url("compat")
    async with (
        running_process(
            "portico_tenancy", infra_env(tenancy_url, nats_url), tmp_path
        ) as tenancy_process,
        running_process("portico_compat", infra_env(compat_url, nats_url), tmp_path),
        grpc.aio.insecure_channel(tenancy_process.target) as channel,
    ):
        tenancy = tpb_grpc.TenancyServiceStub(channel)
        await tenancy.CreateTenant(tpb.CreateTenantRequest(tenant_id="acme"))
        limits = tpb.Resources(cpu_millicores=4000, memory_mib=8192, storage_mib=1024)
        await tenancy.SetQuota(tpb.SetQuotaRequest(tenant_id="acme", limits=limits, max_plugins=3))
        await qpb_grpc.QuotaReservationServiceStub(channel).Reserve(
            qpb.ReserveRequest(
                tenant_id="acme",
                reservation_id="install-1",
                kind=qpb.RESERVATION_KIND_INSTALL,
                plugin="left-pad",
                version="1.0.0",
                amounts=qpb.ReservedAmounts(plugins=1, cpu_millicores=3000, memory_mib=1024),
            )
        )
        nc = await connect(nats_url, "rollout-as-owner")
        try:
            completed = ev.RolloutCompleted(
                tenant_id="acme", rollout_id="ro-1", plugin="left-pad", version="1.0.0"
            )
            await publish(
                nc.jetstream(),
                Envelope.of(completed, source=owner_source(type_of(completed)), tenant_id="acme"),
            )
        finally:
            await nc.close()

        pool = await create_pool(compat_url, "compat", max_size=2)
        try:
            db = Database(pool, "compat")
            known = await projected(db, "acme", both)
            async with db.transaction("acme") as conn:
                projection = PgTenantResourcesRepository(conn)
                fits = await check_tenant_resources(projection, "acme", Resources(1000, 512, 0))
                too_much = await check_tenant_resources(projection, "acme", Resources(1001, 0, 0))
        finally:
            await pool.close()
    assert known.quota is not None
    assert known.usage is not None
    assert (known.quota.limits, known.quota.max_plugins) == (Resources(4000, 8192, 1024), 3)
    assert (known.usage.used, known.usage.plugins) == (Resources(3000, 1024, 0), 1)
    assert fits.compatible
    assert too_much.reasons == (
        "cpu: 1001 millicores requested exceeds the 1000 available (quota 4000, used 3000)",
    )


@pytest.fixture
async def publish_and_consume(
    compat_db: Database, nats_url: str
) -> AsyncIterator[Callable[[ev.TenantQuotaUpdated | ev.TenantUsageUpdated], Awaitable[str]]]:
    """Publishes tenancy-shaped events on JetStream while compat's consumer runs in-process."""
    nc = await connect(nats_url, "compat-resource-tests")
    js = nc.jetstream()
    await ensure_streams(js)
    clock = SystemClock()
    uow = uow_factory(
        compat_db, lambda conn, tenant: CompatPgUnitOfWork(conn, tenant_id=tenant, clock=clock)
    )
    deps = Dependencies(uow=uow, projection_on=PgTenantResourcesRepository)
    (subscription,) = build(deps).subscriptions
    assert subscription.durable == TENANCY_DURABLE
    consumer = EventConsumer(js, compat_db, subscription.durable, subscription.handlers)
    stop = asyncio.Event()
    await consumer.setup()
    running = asyncio.create_task(consumer.run(stop))

    async def publish(payload: ev.TenantQuotaUpdated | ev.TenantUsageUpdated) -> str:
        envelope = Envelope.of(payload, source="portico/tenancy", tenant_id=payload.tenant_id)
        await js.publish(envelope.nats_subject, envelope.body(), headers=envelope.headers())
        return envelope.id

    try:
        yield publish
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await nc.close()


def quota(tenant: str, revision: int, max_plugins: int) -> ev.TenantQuotaUpdated:
    return ev.TenantQuotaUpdated(
        tenant_id=tenant,
        limits=ev.TenantResources(cpu_millicores=1000, memory_mib=1000, storage_mib=1000),
        max_plugins=max_plugins,
        revision=revision,
    )


async def test_a_late_older_revision_leaves_the_newer_quota(
    compat_db: Database,
    publish_and_consume: Callable[[ev.TenantQuotaUpdated], Awaitable[str]],
) -> None:
    """Revision 2 then revision 1 on the stream: the projection keeps revision 2."""
    await publish_and_consume(quota("acme", 2, max_plugins=7))
    await publish_and_consume(quota("acme", 1, max_plugins=1))
    await publish_and_consume(quota("beta", 1, max_plugins=1))
    await projected(compat_db, "beta", lambda k: k.quota is not None)
    known = await projected(compat_db, "acme", lambda k: k.quota is not None)
    assert known.quota is not None
    assert (known.quota.revision, known.quota.max_plugins) == (2, 7)
    async with compat_db.pool.acquire() as conn:
        handled = await conn.fetchval(
            "SELECT count(*) FROM compat.inbox WHERE consumer = $1", TENANCY_DURABLE
        )
    assert handled == 3


async def test_one_tenants_projection_is_invisible_to_another(
    compat_db: Database,
    publish_and_consume: Callable[[ev.TenantQuotaUpdated], Awaitable[str]],
) -> None:
    """Row-level security: tenant beta's transaction sees no quota of acme's, so beta fails safe."""
    await publish_and_consume(quota("acme", 1, max_plugins=7))
    await projected(compat_db, "acme", lambda k: k.quota is not None)
    async with compat_db.transaction("beta") as conn:
        rows = await conn.fetchval("SELECT count(*) FROM tenant_quotas")
        check = await check_tenant_resources(PgTenantResourcesRepository(conn), "beta", Resources())
        sneaky = await PgTenantResourcesRepository(conn).get("acme")
    assert rows == 0
    assert sneaky == TenantResources()
    assert not check.compatible
