"""A compatibility report through the gateway's HTTP routes, from the real compat process.

compat runs as its own process on real PostgreSQL and NATS JetStream; the
gateway app answers HTTP in this process, in front of it, as a portal calls it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from prometheus_client import CollectorRegistry

from portico.compat.v1 import compat_pb2 as pb
from portico.compat.v1 import compat_pb2_grpc as pb_grpc
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique
from portico_embedded.testing.services import ServiceProcess, infra_env, running_process
from portico_gateway.app import create_app

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PLUGIN = "@acme/plugin-cost-insights"
RELEASE = "1.31.0"


def tenant() -> str:
    return unique("t").replace("_", "-")


@pytest.fixture
async def compat(
    service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> AsyncIterator[ServiceProcess]:
    """`python -m portico_compat` on port 0, as compat's own role; it must stop cleanly."""
    url = await service_database_url("compat")
    async with running_process("portico_compat", infra_env(url, nats_url), tmp_path) as service:
        yield service


async def set_up(target: str, tenant_id: str) -> None:
    """The tenant's host: profile, API catalog, release manifest and permission policy."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.CompatServiceStub(channel)
        await stub.SetHostProfile(
            pb.SetHostProfileRequest(
                tenant_id=tenant_id,
                backstage_version=RELEASE,
                node_version="20.11.1",
                packages={"@backstage/core-plugin-api": "1.10.0"},
            )
        )
        await stub.SetHostApiCatalog(
            pb.SetHostApiCatalogRequest(
                tenant_id=tenant_id,
                backstage_release=RELEASE,
                apis=[
                    pb.HostApi(name="core.discovery", version="1.4.0"),
                    pb.HostApi(name="core.identity", version="1.2.0", deprecation="since 1.30"),
                ],
            )
        )
        await stub.SetReleaseManifest(
            pb.SetReleaseManifestRequest(
                tenant_id=tenant_id,
                backstage_release=RELEASE,
                packages={"@backstage/core-plugin-api": "1.10.0"},
            )
        )
        await stub.SetPermissionPolicy(
            pb.SetPermissionPolicyRequest(
                tenant_id=tenant_id,
                rules=[
                    pb.PermissionRule(pattern="catalog.*", decision=pb.PERMISSION_DECISION_ALLOW)
                ],
                default_decision=pb.PERMISSION_DECISION_DENY,
            )
        )


@pytest.fixture
async def gateway(compat: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app in front of the running compat process."""
    app = create_app({"compat": compat.target}, registry=CollectorRegistry())
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http,
    ):
        yield http


def http_body(tenant_id: str) -> dict[str, Any]:
    return {
        "tenantId": tenant_id,
        "plugin": PLUGIN,
        "version": "2.3.0",
        "engines": {"node": ">=18"},
        "consumes": [{"name": "core.discovery", "range": "^1.0.0"}, {"name": "search.query"}],
        "permissions": ["catalog.entity.read", "kube.exec"],
        "resources": {"cpuMillicores": 250, "memoryMib": 256},
    }


async def test_gateway_check_returns_every_dimension_with_evidence(
    compat: ServiceProcess, gateway: httpx.AsyncClient
) -> None:
    """POST /api/plugins/compatibility-check answers the report with verdicts and reasons."""
    acme = tenant()
    await set_up(compat.target, acme)

    response = await gateway.post("/api/plugins/compatibility-check", json=http_body(acme))

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["compatible"] is False
    assert {d["dimension"]: d["verdict"] for d in report["dimensions"]} == {
        "api": "VERDICT_FAIL",
        "runtime": "VERDICT_PASS",
        "permissions": "VERDICT_FAIL",
        # No quota has been projected from tenancy for this tenant: fails safe.
        "resources": "VERDICT_FAIL",
    }
    reasons = {f["name"]: f["reason"] for d in report["dimensions"] for f in d["findings"]}
    assert reasons["search.query"] == "missing: Backstage 1.31.0 has no API 'search.query'"
    assert reasons["kube.exec"] == "deny by the policy's default"


async def test_gateway_streams_the_check_as_ndjson_and_sse(
    compat: ServiceProcess, gateway: httpx.AsyncClient
) -> None:
    """The streaming variant answers one line (or event) per dimension, then the report."""
    acme = tenant()
    await set_up(compat.target, acme)
    url = "/api/plugins/compatibility-check:stream"

    ndjson = await gateway.post(url, json=http_body(acme))
    sse = await gateway.post(url, json=http_body(acme), headers={"Accept": "text/event-stream"})

    lines = [json.loads(line) for line in ndjson.text.splitlines()]
    assert [next(iter(line)) for line in lines] == ["dimension"] * 4 + ["report"]
    assert lines[-1]["report"]["dimensions"][0]["verdict"] == "VERDICT_FAIL"
    events = [block for block in sse.text.split("\n\n") if block]
    assert len(events) == 5
    assert all(block.startswith("event: message\ndata: {") for block in events)


async def test_gateway_bad_manifest_is_a_400_problem(
    compat: ServiceProcess, gateway: httpx.AsyncClient
) -> None:
    """A malformed manifest through the streaming route is a 400 problem, nothing streamed."""
    acme = tenant()
    await set_up(compat.target, acme)
    body = http_body(acme) | {"provides": [{"name": "x", "version": "latest"}]}

    response = await gateway.post("/api/plugins/compatibility-check:stream", json=body)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["grpc_code"] == "INVALID_ARGUMENT"
