"""The slo process end to end: a canary's violation and, once the burn stops, its recovery."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import grpc
import nats
import pytest
from nats.js import JetStreamContext

from portico.events.v1 import events_pb2
from portico.slo.v1 import slo_pb2 as pb
from portico.slo.v1 import slo_pb2_grpc
from portico_common.events.catalog import STREAM
from portico_common.events.envelope import Envelope
from portico_embedded.testing.fixtures import ServiceDatabaseUrl
from portico_embedded.testing.services import infra_env, running_process

pytestmark = pytest.mark.integration

PLUGIN = "@acme/plugin-cost-insights"


@pytest.fixture
async def stub(
    service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> AsyncIterator[slo_pb2_grpc.SloServiceAsyncStub]:
    """The slo process with a half-second tick, and a client of its API."""
    env = infra_env(await service_database_url("slo"), nats_url, slo_gauge_refresh_seconds="0.5")
    async with (
        running_process(
            "portico_slo", env, tmp_path, health_service="portico.slo.v1.SloService"
        ) as process,
        grpc.aio.insecure_channel(process.target) as channel,
    ):
        yield slo_pb2_grpc.SloServiceStub(channel)


async def last_event(js: JetStreamContext, subject: str, tenant: str) -> Envelope | None:
    try:
        raw = await js.get_last_msg(STREAM, subject)
    except nats.js.errors.NotFoundError:
        return None
    assert raw.headers is not None
    assert raw.data is not None
    envelope = Envelope.decode(raw.headers, raw.data)
    return envelope if envelope.tenant_id == tenant else None


async def test_canary_violates_then_recovers_on_the_tick(
    stub: slo_pb2_grpc.SloServiceAsyncStub, nats_url: str
) -> None:
    """A failing canary pushes slo.violated at once; seconds after it stops, slo.recovered."""
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    ensured = await stub.EnsureVersionSlo(
        pb.EnsureVersionSloRequest(
            tenant_id=tenant, plugin=PLUGIN, version="2.3.0", rollout_id="r-1"
        ),
        timeout=10,
    )
    reported = await stub.ReportOutcomes(
        pb.ReportOutcomesRequest(
            tenant_id=tenant,
            plugin=PLUGIN,
            version="2.3.0",
            rollout_id="r-1",
            outcomes=[pb.Outcome(success=False, latency_ms=5)] * 30,
        ),
        timeout=10,
    )
    assert reported.violated

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        violated = recovered = None
        async with asyncio.timeout(20):
            # The stream has no change notification to wait on, so poll it.
            while violated is None or recovered is None:
                violated = await last_event(js, "portico.slo.violated", tenant)
                recovered = await last_event(js, "portico.slo.recovered", tenant)
                await asyncio.sleep(0.2)
    finally:
        await nc.close()

    v, r = violated.payload, recovered.payload
    assert isinstance(v, events_pb2.SloViolated)
    assert isinstance(r, events_pb2.SloRecovered)
    assert (v.slo_id, v.tier, v.scope, v.rollout_id) == (
        ensured.slo.slo_id,
        "canary",
        "canary",
        "r-1",
    )
    assert (v.short_bad, v.short_good) == (30, 0)
    assert (r.violation_id, r.tier, r.slo_ok) == (v.violation_id, "canary", True)
    # The 5 s short window (five 1 s buckets, the current one partly) must empty first.
    assert r.recovered_at.ToDatetime() - v.detected_at.ToDatetime() >= timedelta(seconds=4)
    got = (await stub.GetSlo(pb.GetSloRequest(tenant_id=tenant, slo_id=v.slo_id), timeout=10)).slo
    assert got.state == pb.SLO_STATE_OK
    violations = await stub.ListViolations(pb.ListViolationsRequest(tenant_id=tenant), timeout=10)
    assert [x.violation_id for x in violations.violations] == [v.violation_id]
    assert violations.violations[0].HasField("recovered_at")
