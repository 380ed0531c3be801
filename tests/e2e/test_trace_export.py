"""One trace, exported over OTLP, from the gateway's HTTP request to the rollback.

The gateway, slo and rollout run as their own processes on real PostgreSQL
and NATS JetStream, each exporting spans with the real OTLP/gRPC exporter
configured only by OTEL_* variables, to a collector this test serves (the
collector's TraceService, implemented here with grpcio). Ten failed
outcomes reported through the gateway open the version's breaker in slo;
rollout hears slo.breaker.opened and rolls the canary back: one trace, in
which each NATS hop is a consumer span linked to its producer span.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import nats
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as otlp
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as otlp_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from portico.events.v1 import events_pb2 as ev
from portico.rollout.v1 import rollout_pb2 as rollout_pb
from portico.rollout.v1 import rollout_pb2_grpc as rollout_grpc
from portico.slo.v1 import breakers_pb2 as pb
from portico.slo.v1 import breakers_pb2_grpc as pb_grpc
from portico.slo.v1 import slo_pb2, slo_pb2_grpc
from portico_common.events.bus import publish
from portico_common.events.catalog import type_of
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique
from portico_embedded.testing.services import infra_env, running_process

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PLUGIN = "@acme/plugin-cost-insights"
VERSION = "2.3.0"


@dataclass(frozen=True)
class Span:
    """One exported span, flattened with the service that exported it."""

    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    links: tuple[str, ...]


class Collector(otlp_grpc.TraceServiceServicer):
    """The OTLP receiver: keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[Span] = []

    async def Export(  # noqa: N802 - the collector's RPC name
        self, request: otlp.ExportTraceServiceRequest, _context: object
    ) -> otlp.ExportTraceServiceResponse:
        for resource_spans in request.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ),
                "",
            )
            for scope in resource_spans.scope_spans:
                self.spans += [_flat(service, s) for s in scope.spans]
        return otlp.ExportTraceServiceResponse()


def _flat(service: str, span: trace_pb2.Span) -> Span:
    return Span(
        service=service,
        name=span.name,
        kind=span.kind,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_id=span.parent_span_id.hex(),
        links=tuple(link.span_id.hex() for link in span.links),
    )


@pytest.fixture
async def collector() -> AsyncIterator[tuple[Collector, str]]:
    """An OTLP/gRPC trace receiver on a port of its choosing."""
    server = grpc.aio.server()
    receiver = Collector()
    otlp_grpc.add_TraceServiceServicer_to_server(receiver, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield receiver, f"http://127.0.0.1:{port}"
    finally:
        await server.stop(grace=None)


def otel_env(endpoint: str) -> dict[str, str]:
    """Only standard variables: where to send, in plaintext, batched briefly."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }


@contextlib.asynccontextmanager
async def gateway(slo_target: str, workdir: Path, env: dict[str, str]) -> AsyncIterator[str]:
    """`python -m portico_gateway` in front of slo; yields its URL."""
    ready = workdir / "gateway.ready.json"
    full = {k: v for k, v in os.environ.items() if not k.startswith(("PORTICO_", "OTEL_"))}
    full |= env | {
        "PORTICO_GATEWAY_PORT": "0",
        "PORTICO_GATEWAY_READY_FILE": str(ready),
        "PORTICO_GATEWAY_SLO_TARGET": slo_target,
    }
    with (workdir / "gateway.log").open("ab") as log:
        proc = subprocess.Popen(  # noqa: ASYNC220 - our interpreter; returns at once
            [sys.executable, "-m", "portico_gateway"], env=full, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((workdir / "gateway.log").read_text())
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{json.loads(ready.read_text())['port']}"
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 15)


async def eventually(probe: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        # Spans and states arrive with no notification to wait on.
        while not await probe():  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def test_one_trace_from_the_http_request_to_the_rollback(
    collector: tuple[Collector, str],
    service_database_url: ServiceDatabaseUrl,
    nats_url: str,
    tmp_path: Path,
) -> None:
    """The gateway's span is the root; slo's RPC, both NATS hops and rollout's rollback follow.

    Each consumer span is the child of, and links to, the producer span that
    wrote its event: slo.breaker.opened in slo, rollout.rolled_back in rollout.
    """
    receiver, endpoint = collector
    telemetry = otel_env(endpoint)
    tenant = unique("t").replace("_", "-")
    slo_env = infra_env(await service_database_url("slo"), nats_url) | telemetry
    async with running_process("portico_slo", slo_env, tmp_path / "slo") as slo:
        rollout_env = infra_env(
            await service_database_url("rollout"),
            nats_url,
            rollout_tick_seconds="0.05",
            rollout_slo_target=slo.target,
        )
        async with (
            running_process(
                "portico_rollout", rollout_env | telemetry, tmp_path / "rollout"
            ) as rollout,
            gateway(slo.target, tmp_path, telemetry) as url,
        ):
            rollout_id = await canary_in_progress(tenant, slo.target, rollout.target, nats_url)
            async with httpx.AsyncClient(base_url=url, timeout=20) as http:
                response = await http.post(
                    f"/v1/tenants/{tenant}/outcomes",
                    json={
                        "plugin": PLUGIN,
                        "version": VERSION,
                        "outcomes": [{"success": False, "latencyMs": 30}] * 10,
                    },
                )
            assert response.status_code == 200, response.text

            async with grpc.aio.insecure_channel(rollout.target) as channel:
                rollouts = rollout_grpc.RolloutServiceStub(channel)

                async def rolled_back() -> bool:
                    got = await rollouts.GetRollout(
                        rollout_pb.GetRolloutRequest(tenant_id=tenant, rollout_id=rollout_id)
                    )
                    return got.rollout.state == rollout_pb.ROLLOUT_STATE_ROLLED_BACK

                await eventually(rolled_back)

            def root() -> Span | None:
                return next(
                    (
                        s
                        for s in receiver.spans
                        if s.service == "portico-gateway" and s.name.endswith("/ReportOutcomes")
                    ),
                    None,
                )

            async def whole() -> bool:
                found = root()
                if found is None:
                    return False
                names = {s.name for s in receiver.spans if s.trace_id == found.trace_id}
                return "publish rollout.rolled_back" in names

            await eventually(whole)

    gateway_span = root()
    assert gateway_span is not None
    assert gateway_span.parent_id == "", "the HTTP request starts the trace"
    trace = {s.span_id: s for s in receiver.spans if s.trace_id == gateway_span.trace_id}

    def one(service: str, name: str) -> Span:
        [found] = [s for s in trace.values() if (s.service, s.name) == (service, name)]
        return found

    report = one("portico-slo", "/portico.slo.v1.SloService/ReportOutcomes")
    assert report.parent_id == gateway_span.span_id
    assert report.kind == trace_pb2.Span.SPAN_KIND_SERVER
    opened = one("portico-slo", "publish slo.breaker.opened")
    assert opened.kind == trace_pb2.Span.SPAN_KIND_PRODUCER
    assert opened.parent_id == report.span_id
    consumed = one("portico-rollout", "consume slo.breaker.opened")
    assert consumed.kind == trace_pb2.Span.SPAN_KIND_CONSUMER
    assert consumed.parent_id == opened.span_id
    assert consumed.links == (opened.span_id,), "the NATS hop links to its producer"
    rolled = one("portico-rollout", "publish rollout.rolled_back")
    assert rolled.parent_id == consumed.span_id


async def canary_in_progress(tenant: str, slo: str, rollout: str, nats_url: str) -> str:
    """A canary for VERSION under a patient SLO and a ten-call breaker; returns its id."""
    nc = await nats.connect(nats_url)
    async with (
        grpc.aio.insecure_channel(slo) as slo_channel,
        grpc.aio.insecure_channel(rollout) as rollout_channel,
    ):
        await slo_pb2_grpc.SloServiceStub(slo_channel).CreateSloTemplate(
            slo_pb2.CreateSloTemplateRequest(
                tenant_id=tenant,
                template=slo_pb2.SloTemplate(
                    name="patient",
                    spec=slo_pb2.SloSpec(objective=0.99, min_events=1000),
                    canary_min_events=1000,
                    is_default=True,
                ),
            ),
            timeout=10,
        )
        rollouts = rollout_grpc.RolloutServiceStub(rollout_channel)
        requested = await rollouts.RequestRollout(
            rollout_pb.RequestRolloutRequest(
                tenant_id=tenant, plugin=PLUGIN, version=VERSION, bake_seconds=600
            ),
            timeout=10,
        )
        rollout_id = requested.rollout.rollout_id
        js = nc.jetstream()
        for verdict in (
            ev.ArtifactVerified(tenant_id=tenant, plugin=PLUGIN, version=VERSION),
            ev.CompatChecked(tenant_id=tenant, plugin=PLUGIN, version=VERSION, compatible=True),
        ):
            await publish(
                js, Envelope.of(verdict, source=owner_source(type_of(verdict)), tenant_id=tenant)
            )
        await nc.close()

        async def in_progress() -> bool:
            got = await rollouts.GetRollout(
                rollout_pb.GetRolloutRequest(tenant_id=tenant, rollout_id=rollout_id), timeout=10
            )
            return got.rollout.state == rollout_pb.ROLLOUT_STATE_IN_PROGRESS

        await eventually(in_progress)
        await pb_grpc.BreakerServiceStub(slo_channel).ConfigureBreaker(
            pb.ConfigureBreakerRequest(
                tenant_id=tenant,
                plugin=PLUGIN,
                version=VERSION,
                config=pb.BreakerConfig(sliding_window_size=10, minimum_number_of_calls=10),
            ),
            timeout=10,
        )
    return rollout_id
