"""One trace, exported over OTLP, from the gateway's HTTP request to the rollback.

The gateway, security, compat, slo and rollout run as their own processes on
real PostgreSQL and NATS JetStream, each exporting spans with the real
OTLP/gRPC exporter configured only by OTEL_* variables, to a collector this
test serves (the collector's TraceService, implemented here with grpcio).

A portal installs a plugin version through the gateway: InstallSecure at
security (verified, trusted, approved by policy), whose events make rollout
request the canary; the portal continues the trace the gateway answered
(`traceresponse`) on its follow-ups: the compat check, whose verdict starts
the canary, and the failed outcomes its users report, which open the
version's breaker in slo; rollout hears slo.breaker.opened and rolls the
canary back. One trace holds it all, rooted at the install's HTTP request;
each NATS hop is a consumer span that is the child of, and links to, its
producer span; each call between services is a CLIENT span and the callee's
SERVER span under it.
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
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as otlp
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as otlp_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from portico.rollout.v1 import rollout_pb2 as rollout_pb
from portico.rollout.v1 import rollout_pb2_grpc as rollout_grpc
from portico_cli.artifact import Artifact, PublisherKey, b64, build
from portico_cli.scenario import ENGINES, HOST_PROFILE, PEER_DEPENDENCIES
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique
from portico_embedded.testing.services import ServiceProcess, infra_env, running_process

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
async def gateway(
    upstreams: dict[str, str], workdir: Path, env: dict[str, str]
) -> AsyncIterator[str]:
    """`python -m portico_gateway` in front of `upstreams` (service -> target); yields its URL."""
    ready = workdir / "gateway.ready.json"
    full = {k: v for k, v in os.environ.items() if not k.startswith(("PORTICO_", "OTEL_"))}
    full |= env | {
        "PORTICO_GATEWAY_PORT": "0",
        "PORTICO_GATEWAY_READY_FILE": str(ready),
    }
    full |= {f"PORTICO_GATEWAY_{name.upper()}_TARGET": t for name, t in upstreams.items()}
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


@contextlib.asynccontextmanager
async def started(*services: ServiceProcess) -> AsyncIterator[None]:
    """Starts the services at once; each must stop cleanly on SIGTERM afterwards."""
    try:
        await asyncio.gather(*(asyncio.to_thread(s.start) for s in services))
        yield
    finally:
        await asyncio.gather(*(asyncio.to_thread(s.stop) for s in services))
    for service in services:
        service.assert_stopped_cleanly()


async def eventually(probe: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    async with asyncio.timeout(within):
        # Spans and states arrive with no notification to wait on.
        while not await probe():  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def test_one_trace_from_the_install_request_to_the_rollback(
    collector: tuple[Collector, str],
    service_database_url: ServiceDatabaseUrl,
    nats_url: str,
    tmp_path: Path,
) -> None:
    """install -> security -> rollout; compat check -> canary; outcomes -> slo -> rollback.

    The gateway's span for the install request is the root. security's events,
    compat's verdict and slo's breaker reach rollout as consumer spans linked
    to their producers; rollout's call to slo is a CLIENT span over slo's
    SERVER span. The gateway's latency histogram names the same trace as an
    exemplar.
    """
    receiver, endpoint = collector
    telemetry = otel_env(endpoint)
    tenant = unique("t").replace("_", "-")
    urls = {s: await service_database_url(s) for s in ("security", "compat", "slo", "rollout")}
    security, compat, slo = (
        ServiceProcess(f"portico_{n}", infra_env(urls[n], nats_url) | telemetry, tmp_path / n)
        for n in ("security", "compat", "slo")
    )
    # Independent of each other: started side by side.
    async with started(security, compat, slo):
        rollout_env = infra_env(
            urls["rollout"],
            nats_url,
            rollout_tick_seconds="0.05",
            rollout_slo_target=slo.target,
            rollout_compat_target=compat.target,
        )
        upstreams = {"security": security.target, "compat": compat.target, "slo": slo.target}
        async with (
            running_process(
                "portico_rollout", rollout_env | telemetry, tmp_path / "rollout"
            ) as rollout,
            gateway(upstreams | {"rollout": rollout.target}, tmp_path, telemetry) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            artifact = await prepare(http, tenant)
            installed = await http.post(
                "/api/plugins/install-secure",
                json={
                    "tenantId": tenant,
                    "plugin": PLUGIN,
                    "version": VERSION,
                    "tarball": b64(artifact.tarball),
                    "integrity": artifact.integrity,
                    "signature": b64(artifact.signature),
                    "keyId": artifact.key_id,
                    "requestedBy": "dev-bob",
                    "rolloutPhases": [50, 100],
                    "rolloutBakeSeconds": 600,
                },
            )
            assert installed.status_code == 200, installed.text
            assert installed.json()["request"]["status"] == "INSTALL_STATUS_APPROVED"
            # The portal goes on in the install's trace.
            follow_up = {"traceparent": installed.headers["traceresponse"]}
            async with grpc.aio.insecure_channel(rollout.target) as channel:
                rollouts = rollout_grpc.RolloutServiceStub(channel)

                async def state() -> int:
                    """The state of the tenant's one rollout (none yet: unspecified)."""
                    listed = await rollouts.ListRollouts(
                        rollout_pb.ListRolloutsRequest(tenant_id=tenant), timeout=10
                    )
                    return int(listed.rollouts[0].state) if listed.rollouts else 0

                # Requested on security's hand-over, so compat's verdict is the one
                # that starts it (were it first, the request would start it).
                await eventually(lambda: _is(state, rollout_pb.ROLLOUT_STATE_AWAITING_CHECKS))
                checked = await http.post(
                    f"/v1/tenants/{tenant}/compatibility:check",
                    json={
                        "plugin": PLUGIN,
                        "version": VERSION,
                        "engines": ENGINES,
                        "peerDependencies": PEER_DEPENDENCIES,
                    },
                    headers=follow_up,
                )
                assert checked.status_code == 200, checked.text
                assert checked.json()["compatible"] is True, checked.text
                await eventually(lambda: _is(state, rollout_pb.ROLLOUT_STATE_IN_PROGRESS))
                await configure_breaker(http, tenant)
                reported = await http.post(
                    f"/v1/tenants/{tenant}/outcomes",
                    json={
                        "plugin": PLUGIN,
                        "version": VERSION,
                        "outcomes": [{"success": False, "latencyMs": 30}] * 10,
                    },
                    headers=follow_up,
                )
                assert reported.status_code == 200, reported.text
                await eventually(lambda: _is(state, rollout_pb.ROLLOUT_STATE_ROLLED_BACK))
            trace_id = installed.headers["traceresponse"].split("-")[1]

            async def whole() -> bool:
                names = {s.name for s in receiver.spans if s.trace_id == trace_id}
                return {"publish rollout.started", "publish rollout.rolled_back"} <= names

            await eventually(whole)
            scraped = await http.get(
                "/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"}
            )

    trace = {s.span_id: s for s in receiver.spans if s.trace_id == trace_id}

    def one(service: str, name: str) -> Span:
        found = [s for s in trace.values() if (s.service, s.name) == (service, name)]
        assert len(found) == 1, (service, name, sorted((s.service, s.name) for s in trace.values()))
        return found[0]

    def child(parent: Span, service: str, name: str, kind: int) -> Span:
        span = one(service, name)
        assert span.kind == kind, span
        assert span.parent_id == parent.span_id, (span, parent)
        return span

    def hop(producer: Span, service: str, event_type: str) -> Span:
        """The consumer span of `producer`'s event: its child, linked to it."""
        consumed = child(producer, service, f"consume {event_type}", KIND.SPAN_KIND_CONSUMER)
        assert consumed.links == (producer.span_id,), "the NATS hop links to its producer"
        return consumed

    def call(parent: Span, caller: str, callee: str, method: str) -> Span:
        """`caller`'s CLIENT span under `parent` and `callee`'s SERVER span under it."""
        client = child(parent, caller, method, KIND.SPAN_KIND_CLIENT)
        return child(client, callee, method, KIND.SPAN_KIND_SERVER)

    root = one("portico-gateway", "POST /api/plugins/install-secure")
    assert root.kind == KIND.SPAN_KIND_SERVER
    assert root.parent_id == "", "the install's HTTP request starts the trace"
    # security: the install, its verdict and its hand-over to rollout.
    install = call(root, "portico-gateway", "portico-security", INSTALL_SECURE)
    verified = child(install, "portico-security", "publish plugin.artifact.verified", PRODUCER)
    approved = child(install, "portico-security", "publish plugin.install.approved", PRODUCER)
    hop(verified, "portico-rollout", "plugin.artifact.verified")
    requesting = hop(approved, "portico-rollout", "plugin.install.approved")
    call(requesting, "portico-rollout", "portico-slo", ENSURE_VERSION_SLO)
    child(requesting, "portico-rollout", "publish rollout.requested", PRODUCER)
    # compat: the follow-up's check, whose verdict starts the canary.
    check = one("portico-gateway", "POST /v1/tenants/{tenant_id}/compatibility:check")
    assert check.parent_id == root.span_id
    checking = call(check, "portico-gateway", "portico-compat", CHECK_COMPATIBILITY)
    verdict = child(checking, "portico-compat", "publish plugin.compat.checked", PRODUCER)
    starting = hop(verdict, "portico-rollout", "plugin.compat.checked")
    child(starting, "portico-rollout", "publish rollout.started", PRODUCER)
    # slo: the failed outcomes open the breaker; rollout rolls the canary back.
    outcomes = one("portico-gateway", "POST /v1/tenants/{tenant_id}/outcomes")
    assert outcomes.parent_id == root.span_id
    report = call(outcomes, "portico-gateway", "portico-slo", REPORT_OUTCOMES)
    opened = child(report, "portico-slo", "publish slo.breaker.opened", PRODUCER)
    rolling_back = hop(opened, "portico-rollout", "slo.breaker.opened")
    child(rolling_back, "portico-rollout", "publish rollout.rolled_back", PRODUCER)

    exemplars = [
        line
        for line in scraped.text.splitlines()
        if line.startswith("portico_gateway_request_duration_seconds_bucket{")
        and 'route="/api/plugins/install-secure"' in line
        and "# {" in line
    ]
    assert [f'trace_id="{trace_id}"' in line for line in exemplars] == [True], exemplars


KIND = trace_pb2.Span.SpanKind
PRODUCER = KIND.SPAN_KIND_PRODUCER
INSTALL_SECURE = "/portico.security.v1.InstallService/InstallSecure"
CHECK_COMPATIBILITY = "/portico.compat.v1.CompatService/CheckCompatibility"
ENSURE_VERSION_SLO = "/portico.slo.v1.SloService/EnsureVersionSlo"
REPORT_OUTCOMES = "/portico.slo.v1.SloService/ReportOutcomes"


async def _is(state: Callable[[], Awaitable[int]], wanted: int) -> bool:
    return await state() == wanted


async def prepare(http: httpx.AsyncClient, tenant: str) -> Artifact:
    """The tenant's publisher key, host profile, install policy and SLO template; the artifact.

    The policy approves any verified install (no approvers), so InstallSecure
    hands over to rollout in the same request; the template is patient, so only
    the breaker rolls the canary back.
    """
    key = PublisherKey.generate("acme", f"acme-{tenant}")
    steps: list[tuple[str, str, dict[str, Any]]] = [
        (
            "POST",
            f"/v1/tenants/{tenant}/publisher-keys",
            {
                "publisher": "acme",
                "keyId": key.key_id,
                "algorithm": "KEY_ALGORITHM_ED25519",
                "publicKeyPem": key.public_key_pem,
            },
        ),
        ("PUT", f"/v1/tenants/{tenant}/host-profile", HOST_PROFILE),
        (
            "PUT",
            f"/v1/tenants/{tenant}/install-policy",
            {
                "actor": "platform-admin",
                "reason": "verified installs go straight to a canary",
                "policy": {
                    "approvalBelowScore": 0,
                    "blockedSeverities": ["CRITICAL"],
                    "maxArtifactBytes": 1 << 20,
                    # Asked for only below a score of 0: never.
                    "approval": {
                        "required": 1,
                        "roles": ["security-approver"],
                        "timeoutSeconds": 3600,
                        "onDeadline": "DEADLINE_ACTION_EXPIRE",
                    },
                },
            },
        ),
        (
            "POST",
            f"/v1/tenants/{tenant}/slo-templates",
            {
                "template": {
                    "name": "patient",
                    "spec": {"objective": 0.99, "minEvents": 1000},
                    "canaryMinEvents": 1000,
                    "isDefault": True,
                }
            },
        ),
    ]
    for method, path, body in steps:
        response = await http.request(method, path, json=body)
        assert response.status_code == 200, (path, response.text)
    return build(PLUGIN, VERSION, key, engines=ENGINES, peer_dependencies=PEER_DEPENDENCIES)


async def configure_breaker(http: httpx.AsyncClient, tenant: str) -> None:
    """A ten-call breaker on the version: ten failed outcomes open it."""
    response = await http.post(
        f"/v1/tenants/{tenant}/breakers",
        json={
            "plugin": PLUGIN,
            "version": VERSION,
            "config": {"slidingWindowSize": 10, "minimumNumberOfCalls": 10},
        },
    )
    assert response.status_code == 200, response.text
