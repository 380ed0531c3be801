"""Unconfirmed quota holds expire on real PostgreSQL and JetStream, by tenancy's Clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc
import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import SecretStr

from portico.events.v1 import events_pb2 as ev
from portico.tenancy.v1 import quotas_pb2 as qpb
from portico.tenancy.v1 import quotas_pb2_grpc as qpb_grpc
from portico.tenancy.v1 import tenancy_pb2 as pb
from portico.tenancy.v1 import tenancy_pb2_grpc as pb_grpc
from portico_common.clock import ManualClock
from portico_common.events.bus import connect, publish
from portico_common.events.catalog import STREAM, subject_for, type_of
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique
from portico_embedded.testing.services import serving_in_process
from portico_tenancy.bootstrap import SERVICE, run
from portico_tenancy.settings import TenancySettings

pytestmark = pytest.mark.integration

TTL_SECONDS = 600


def _install(rid: str, plugin: str) -> qpb.ReserveRequest:
    return qpb.ReserveRequest(
        tenant_id="acme",
        reservation_id=rid,
        kind=qpb.RESERVATION_KIND_INSTALL,
        plugin=plugin,
        version="1.0.0",
        amounts=qpb.ReservedAmounts(plugins=1),
    )


async def test_a_hold_security_never_committed_expires_and_a_confirmed_one_stays(
    service_database_url: ServiceDatabaseUrl, nats_url: str
) -> None:
    """Past the TTL the sweep releases the lost hold (tenant.reservation.expired), not the kept."""
    settings = TenancySettings.model_validate(
        {
            "database_url": SecretStr(await service_database_url(SERVICE)),
            "nats_url": nats_url,
            "grpc_port": 0,
            "metrics_port": -1,
            "reservation_hold_ttl_seconds": TTL_SECONDS,
            "reservation_sweep_seconds": 0.05,
        }
    )
    clock = ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    async with serving_in_process(run, settings, clock=clock) as port:
        nc = await connect(nats_url, "security-as-owner")
        watch = await nats.connect(nats_url)
        expired_events = await watch.jetstream().pull_subscribe(
            subject_for("tenant.reservation.expired"),
            durable=unique("holds"),
            stream=STREAM,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            tenancy = pb_grpc.TenancyServiceStub(channel)
            quotas = qpb_grpc.QuotaReservationServiceStub(channel)
            await tenancy.CreateTenant(pb.CreateTenantRequest(tenant_id="acme"))
            await tenancy.SetQuota(
                pb.SetQuotaRequest(
                    tenant_id="acme", limits=pb.Resources(cpu_millicores=1000), max_plugins=2
                )
            )
            await quotas.Reserve(_install("lost", "a"))
            await quotas.Reserve(_install("kept", "b"))
            # security recorded the install request of "kept" (and crashed before "lost"'s).
            requested = ev.InstallRequested(tenant_id="acme", request_id="kept", plugin="b")
            await publish(
                nc.jetstream(),
                Envelope.of(requested, source=owner_source(type_of(requested)), tenant_id="acme"),
            )
            await _until_confirmed(quotas, "kept")

            clock.advance(TTL_SECONDS)
            (msg,) = await expired_events.fetch(1, timeout=15)
            await msg.ack()
            event = Envelope.decode(msg.headers, msg.data)
            assert isinstance(event.payload, ev.TenantReservationExpired)
            assert (event.tenant_id, event.payload.reservation_id, event.payload.plugin) == (
                "acme",
                "lost",
                "a",
            )
            lost = (await quotas.Reserve(_install("lost", "a"))).reservation
            assert lost.state == qpb.RESERVATION_STATE_RELEASED
            assert lost.reason == f"hold expired: not confirmed within {TTL_SECONDS} s"
            kept = (await quotas.Reserve(_install("kept", "b"))).reservation
            assert kept.state == qpb.RESERVATION_STATE_HELD
            # The slot "lost" held admits another install.
            fresh = (await quotas.Reserve(_install("fresh", "c"))).reservation
            assert fresh.state == qpb.RESERVATION_STATE_HELD
            with pytest.raises(TimeoutError):
                await expired_events.fetch(1, timeout=0.5)
        await nc.close()
        await watch.close()


async def _until_confirmed(stub: qpb_grpc.QuotaReservationServiceAsyncStub, rid: str) -> None:
    """Waits (at most 15 s) for tenancy-usage to have confirmed the hold."""
    for _ in range(300):
        reply = await stub.Reserve(_install(rid, "b"))
        if reply.reservation.HasField("confirmed_at"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"hold {rid} was never confirmed")
