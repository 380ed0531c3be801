"""The deletion saga's tenancy side on real PostgreSQL and NATS: grace period, reports, deleted."""

from __future__ import annotations

import asyncio
import time

import grpc
import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import SecretStr

from portico.events.v1 import events_pb2 as ev
from portico.tenancy.v1 import lifecycle_pb2 as lpb
from portico.tenancy.v1 import lifecycle_pb2_grpc as lpb_grpc
from portico.tenancy.v1 import tenancy_pb2 as pb
from portico.tenancy.v1 import tenancy_pb2_grpc as pb_grpc
from portico_common.events.catalog import STREAM, subject_for
from portico_common.events.envelope import Envelope
from portico_common.events.topology import tenant_data_services
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique, unique_tenant
from portico_embedded.testing.services import serving_in_process
from portico_tenancy.bootstrap import SERVICE, run
from portico_tenancy.settings import TenancySettings

pytestmark = pytest.mark.integration


async def test_after_the_grace_period_the_services_are_asked_and_their_reports_delete(
    service_database_url: ServiceDatabaseUrl, nats_url: str
) -> None:
    """deletion_requested names every data service; the last report makes the tenant deleted."""
    settings = TenancySettings.model_validate(
        {
            "database_url": SecretStr(await service_database_url(SERVICE)),
            "nats_url": nats_url,
            "grpc_port": 0,
            "metrics_port": -1,
            "deletion_grace_seconds": 1,
            "deletion_poll_seconds": 0.2,
        }
    )
    tenant = unique_tenant()
    services = tenant_data_services()
    async with serving_in_process(run, settings) as port:
        nc = await nats.connect(nats_url)
        requested = await nc.jetstream().pull_subscribe(
            subject_for("tenant.deletion_requested"),
            durable=unique("saga"),
            stream=STREAM,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            tenancy = pb_grpc.TenancyServiceStub(channel)
            lifecycle = lpb_grpc.TenantLifecycleServiceStub(channel)
            await tenancy.CreateTenant(pb.CreateTenantRequest(tenant_id=tenant))
            await lifecycle.DeleteTenant(lpb.DeleteTenantRequest(tenant_id=tenant))
            deadline = time.monotonic() + 15
            while True:
                (msg,) = await requested.fetch(1, timeout=15)
                await msg.ack()
                event = Envelope.decode(msg.headers, msg.data)
                if event.tenant_id == tenant:
                    break
                assert time.monotonic() < deadline
            assert isinstance(event.payload, ev.TenantDeletionRequested)
            assert list(event.payload.services) == list(services)
            for service in services:
                reply = await lifecycle.ReportTenantDataDeleted(
                    lpb.ReportTenantDataDeletedRequest(tenant_id=tenant, service=service)
                )
            assert reply.tenant.state == pb.TENANT_STATE_DELETED
            assert list(reply.tenant.pending_services) == []
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await lifecycle.RestoreTenant(lpb.RestoreTenantRequest(tenant_id=tenant))
            assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        await nc.close()
    await asyncio.sleep(0)
