"""The slo service as its own process, over gRPC, pushing slo.violated onto JetStream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import grpc
import nats
import pytest
from nats.js import JetStreamContext

from portico.events.v1 import events_pb2
from portico.slo.v1 import slo_pb2 as pb
from portico_common.events.catalog import STREAM
from portico_common.events.envelope import TENANT_HEADER, Envelope
from portico_common.timestamps import from_timestamp

if TYPE_CHECKING:
    # conftest is not importable at run time under --import-mode=importlib.
    from conftest import SloProcess

pytestmark = pytest.mark.integration

SUBJECT = "portico.slo.violated"
PLUGIN = "@acme/plugin-cost-insights"


def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def outcomes(good: int = 0, bad: int = 0) -> list[pb.Outcome]:
    return [pb.Outcome(success=True, latency_ms=40)] * good + [
        pb.Outcome(success=False, latency_ms=40)
    ] * bad


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    yield nc.jetstream()
    await nc.close()


async def violations_on_stream(js: JetStreamContext) -> int:
    info = await js.stream_info(STREAM, subjects_filter=SUBJECT)
    return (info.state.subjects or {}).get(SUBJECT, 0)


async def wait_for_violations(js: JetStreamContext, at_least: int = 1) -> None:
    async with asyncio.timeout(10):
        # The stream's state has no change notification to wait on, so poll it.
        while await violations_on_stream(js) < at_least:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def create(svc: SloProcess, tenant_id: str, version: str = "2.3.0") -> pb.CreateSloResponse:
    return await svc.stub.CreateSlo(
        pb.CreateSloRequest(
            tenant_id=tenant_id,
            plugin=PLUGIN,
            version=version,
            objective=0.99,
            latency_threshold_ms=300,
        ),
        timeout=10,
    )


async def report(
    svc: SloProcess, tenant_id: str, batch: list[pb.Outcome], version: str = "2.3.0"
) -> pb.ReportOutcomesResponse:
    return await svc.stub.ReportOutcomes(
        pb.ReportOutcomesRequest(
            tenant_id=tenant_id, plugin=PLUGIN, version=version, outcomes=batch
        ),
        timeout=10,
    )


async def test_failing_version_pushes_one_violation(
    slo_service: SloProcess, js: JetStreamContext
) -> None:
    """Good then bad outcomes put one slo.violated CloudEvent, with its tenant, on JetStream."""
    acme = tenant()
    slo = (await create(slo_service, acme)).slo
    calm = await report(slo_service, acme, outcomes(good=20))
    assert await violations_on_stream(js) == 0

    tripped = await report(slo_service, acme, outcomes(bad=10))
    await wait_for_violations(js)
    again = await report(slo_service, acme, outcomes(bad=50))
    await asyncio.sleep(1)  # time enough for a second event to land, were there one

    assert (calm.violated, tripped.violated, again.violated) == (False, True, True)
    assert await violations_on_stream(js) == 1
    raw = await js.get_last_msg(STREAM, SUBJECT)
    assert raw.headers is not None
    assert raw.data is not None
    envelope = Envelope.decode(raw.headers, raw.data)
    assert raw.headers[TENANT_HEADER] == acme
    assert raw.headers["Nats-Msg-Id"] == envelope.id
    assert (envelope.type, envelope.source, envelope.subject) == (
        "slo.violated",
        "portico/slo",
        slo.slo_id,
    )
    event = envelope.payload
    assert isinstance(event, events_pb2.SloViolated)
    assert (event.tenant_id, event.slo_id, event.plugin, event.version) == (
        acme,
        slo.slo_id,
        PLUGIN,
        "2.3.0",
    )
    assert event.rule == "burn rate >= 14.4 over 5m and 1h"
    assert event.threshold == pytest.approx(14.4)
    assert event.short_window_burn_rate == pytest.approx(tripped.short_window_burn_rate)
    assert event.short_window_burn_rate == pytest.approx((10 / 30) / 0.01)
    detected_at = from_timestamp(event.detected_at)
    assert abs(datetime.now(UTC) - detected_at) < timedelta(seconds=30)
    got = (await slo_service.stub.GetSlo(pb.GetSloRequest(tenant_id=acme, slo_id=slo.slo_id))).slo
    assert got.state == pb.SLO_STATE_VIOLATED
    assert got.violated_at == event.detected_at


async def test_racing_reports_push_once(slo_service: SloProcess, js: JetStreamContext) -> None:
    """Twenty failing reports sent at once over gRPC still push a single slo.violated."""
    acme = tenant()
    await create(slo_service, acme)

    results = await asyncio.gather(
        *(report(slo_service, acme, outcomes(bad=10)) for _ in range(20))
    )
    await wait_for_violations(js)
    await asyncio.sleep(1)

    assert all(r.violated for r in results)
    assert await violations_on_stream(js) == 1


async def test_tenants_are_isolated(slo_service: SloProcess, js: JetStreamContext) -> None:
    """Another tenant cannot read or feed our SLO, and its own SLO for the version is separate."""
    acme, globex = tenant(), tenant()
    ours = (await create(slo_service, acme)).slo

    with pytest.raises(grpc.aio.AioRpcError) as read:
        await slo_service.stub.GetSlo(pb.GetSloRequest(tenant_id=globex, slo_id=ours.slo_id))
    with pytest.raises(grpc.aio.AioRpcError) as fed:
        await report(slo_service, globex, outcomes(bad=20))
    theirs = (await create(slo_service, globex)).slo
    await report(slo_service, acme, outcomes(bad=20))
    await wait_for_violations(js)
    their_view = await slo_service.stub.GetSlo(
        pb.GetSloRequest(tenant_id=globex, slo_id=theirs.slo_id)
    )

    assert read.value.code() == grpc.StatusCode.NOT_FOUND
    assert fed.value.code() == grpc.StatusCode.NOT_FOUND
    assert theirs.slo_id != ours.slo_id
    assert their_view.slo.state == pb.SLO_STATE_OK
    raw = await js.get_last_msg(STREAM, SUBJECT)
    assert raw.headers is not None
    assert raw.headers[TENANT_HEADER] == acme


async def test_bad_requests_are_refused_and_change_nothing(slo_service: SloProcess) -> None:
    """Duplicates, unknown versions and malformed reports get their status codes; nothing counts."""
    acme = tenant()
    slo = (await create(slo_service, acme)).slo
    attempts: dict[str, Awaitable[object]] = {
        "duplicate": create(slo_service, acme),
        "unknown version": report(slo_service, acme, outcomes(bad=20), version="9.9.9"),
        "empty report": report(slo_service, acme, []),
        "oversized report": report(slo_service, acme, outcomes(bad=10_001)),
        "every tenant": slo_service.stub.GetSlo(pb.GetSloRequest(tenant_id="*", slo_id=slo.slo_id)),
    }

    codes = {}
    for name, attempt in attempts.items():
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await attempt
        codes[name] = raised.value.code()
    got = (await slo_service.stub.GetSlo(pb.GetSloRequest(tenant_id=acme, slo_id=slo.slo_id))).slo

    assert codes == {
        "duplicate": grpc.StatusCode.ALREADY_EXISTS,
        "unknown version": grpc.StatusCode.NOT_FOUND,
        "empty report": grpc.StatusCode.INVALID_ARGUMENT,
        "oversized report": grpc.StatusCode.INVALID_ARGUMENT,
        "every tenant": grpc.StatusCode.INVALID_ARGUMENT,
    }
    assert (got.state, got.short_window_burn_rate, got.long_window_burn_rate) == (
        pb.SLO_STATE_OK,
        0.0,
        0.0,
    )


async def test_retried_report_is_counted_once(slo_service: SloProcess) -> None:
    """A report retried with the same idempotency key is answered from storage, not recounted."""
    acme = tenant()
    await create(slo_service, acme, version="1.0.0")
    key = (("idempotency-key", f"report-{uuid.uuid4()}"),)
    request = pb.ReportOutcomesRequest(
        tenant_id=acme, plugin=PLUGIN, version="1.0.0", outcomes=outcomes(good=10)
    )

    first = await slo_service.stub.ReportOutcomes(request, metadata=key, timeout=10)
    retried = await slo_service.stub.ReportOutcomes(request, metadata=key, timeout=10)
    after = await report(slo_service, acme, outcomes(bad=10), version="1.0.0")

    assert retried == first
    # 10 good and 10 bad: a 50% error rate; counting the retry would make it 33%.
    assert after.short_window_burn_rate == pytest.approx(50.0)


async def test_sigterm_stops_the_process_cleanly(slo_service: SloProcess) -> None:
    """SIGTERM drains the service and the process exits with status 0."""
    code = await asyncio.to_thread(slo_service.process.stop, 15)

    assert code == 0, slo_service.output()
