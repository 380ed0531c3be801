"""A canary through the gateway's HTTP routes, promoted on slo's evidence, with the controls.

rollout and slo run as their own processes on real PostgreSQL and NATS
JetStream, rollout asking slo (EnsureVersionSlo, GetVersionOutcomes) over
gRPC; the gateway app answers HTTP in this process, in front of both. The
checks' verdicts arrive as the CloudEvents security and compat publish.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from prometheus_client import CollectorRegistry

from portico.events.v1 import events_pb2 as ev
from portico_common.events.bus import publish
from portico_common.events.catalog import type_of
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique
from portico_embedded.testing.services import infra_env, running_process
from portico_gateway.app import create_app

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PLUGIN = "@acme/plugin-cost-insights"
API = "/api/plugins/canary-deployment"


@dataclass
class Suite:
    http: httpx.AsyncClient
    nats_url: str
    tenant: str

    async def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self.http.request(method, path, **kwargs)
        assert response.status_code == 200, (method, path, response.text)
        body: dict[str, Any] = response.json()
        return body

    async def rollout(self, rollout_id: str) -> dict[str, Any]:
        return await self.call("GET", f"{API}/{rollout_id}", params={"tenant_id": self.tenant})

    async def checks_pass(self, version: str) -> None:
        """security and compat publish their verdicts for the version."""
        nc = await nats.connect(self.nats_url)
        try:
            js = nc.jetstream()
            for payload in (
                ev.ArtifactVerified(tenant_id=self.tenant, plugin=PLUGIN, version=version),
                ev.CompatChecked(
                    tenant_id=self.tenant, plugin=PLUGIN, version=version, compatible=True
                ),
            ):
                source = owner_source(type_of(payload))
                await publish(js, Envelope.of(payload, source=source, tenant_id=self.tenant))
        finally:
            await nc.close()

    async def good_outcomes(self, version: str, count: int) -> None:
        """The version served `count` good requests, reported to slo through the gateway."""
        await self.call(
            "POST",
            f"/v1/tenants/{self.tenant}/outcomes",
            json={
                "plugin": PLUGIN,
                "version": version,
                "outcomes": [{"success": True, "latencyMs": 40}] * count,
            },
        )


async def until(probe: Callable[[], Awaitable[Any]], within: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await probe()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, f"not within {within}s: {probe}"
        await asyncio.sleep(0.2)


@pytest.fixture
async def suite(
    service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> AsyncIterator[Suite]:
    """slo and rollout as processes (rollout knows slo's address), the gateway before both."""
    (tmp_path / "slo").mkdir()
    (tmp_path / "rollout").mkdir()
    slo_env = infra_env(await service_database_url("slo"), nats_url)
    async with running_process("portico_slo", slo_env, tmp_path / "slo") as slo:
        env = infra_env(
            await service_database_url("rollout"),
            nats_url,
            rollout_slo_target=slo.target,
            rollout_tick_seconds="0.1",
            rollout_recheck_seconds="1",
        )
        async with running_process("portico_rollout", env, tmp_path / "rollout") as rollout:
            app = create_app(
                {"slo": slo.target, "rollout": rollout.target}, registry=CollectorRegistry()
            )
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://gw", timeout=20
                ) as http,
            ):
                yield Suite(http, nats_url, unique("t").replace("_", "-"))


async def test_a_canary_held_for_samples_then_promoted_on_evidence(suite: Suite) -> None:
    """Create over the seed's API: the phase holds without samples, then advances on slo's."""
    created = await suite.call(
        "POST",
        API,
        json={
            "tenantId": suite.tenant,
            "plugin": PLUGIN,
            "version": "2.3.0",
            "plan": [
                {"percent": 50, "bakeSeconds": 1, "criteria": {"minSamples": 5}},
                {"percent": 100, "bakeSeconds": 3600},
            ],
        },
    )
    rollout = created["rollout"]
    rollout_id = rollout["rolloutId"]
    assert rollout["state"] == "ROLLOUT_STATE_AWAITING_CHECKS"
    assert rollout["sloId"], "no rollout without an SLO for its version"
    slo = await suite.call("GET", f"/v1/tenants/{suite.tenant}/slos/{rollout['sloId']}")
    assert (slo["slo"]["plugin"], slo["slo"]["version"]) == (PLUGIN, "2.3.0")

    await suite.checks_pass("2.3.0")

    async def holding() -> dict[str, Any] | None:
        found = await suite.rollout(rollout_id)
        return found if found.get("health", {}).get("status") == "holding" else None

    held = await until(holding)
    assert held["rollout"]["percent"] == 50
    assert held["health"]["summary"].startswith("not enough samples: 0 of 5")
    assert held["decisions"][0]["kind"] == "DECISION_KIND_HOLD"

    async def advanced() -> dict[str, Any] | None:
        await suite.good_outcomes("2.3.0", 10)
        found = await suite.rollout(rollout_id)
        return found if found["rollout"].get("percent") == 100 else None

    moved = await until(advanced)
    assert moved["health"]["status"] == "healthy"
    assert moved["decisions"][0]["kind"] == "DECISION_KIND_ADVANCE"
    # uint64 is a string in JSON.
    assert int(moved["decisions"][0]["evidence"]["canary"]["samples"]) >= 5
    decisions = await suite.call(
        "GET", f"/v1/tenants/{suite.tenant}/rollouts/{rollout_id}/decisions"
    )
    assert [d["kind"] for d in decisions["decisions"]][-1] == "DECISION_KIND_ADVANCE"
    replayed = await suite.call(
        "POST",
        f"/v1/tenants/{suite.tenant}/rollouts/{rollout_id}:replay",
        json={"criteria": {"minSamples": 100000}},
    )
    assert replayed["outcome"] == "held"


async def test_the_controls_through_the_gateway(suite: Suite) -> None:
    """Pause (PATCH), resume, abort (DELETE), retry, promote to 100%, list, audit."""
    created = await suite.call(
        "POST",
        f"/v1/tenants/{suite.tenant}/rollouts",
        json={"plugin": PLUGIN, "version": "2.3.0", "bakeSeconds": 3600},
    )
    rollout_id = created["rollout"]["rolloutId"]
    await suite.checks_pass("2.3.0")

    async def started() -> bool:
        return (await suite.rollout(rollout_id))["rollout"]["state"] == "ROLLOUT_STATE_IN_PROGRESS"

    await until(started)
    paused = await suite.call(
        "PATCH",
        f"{API}/{rollout_id}",
        json={"tenantId": suite.tenant, "action": "ROLLOUT_ACTION_PAUSE", "reason": "look"},
    )
    assert paused["rollout"]["state"] == "ROLLOUT_STATE_PAUSED"
    base = f"/v1/tenants/{suite.tenant}/rollouts/{rollout_id}"
    resumed = await suite.call("POST", f"{base}:resume", json={})
    assert resumed["rollout"]["state"] == "ROLLOUT_STATE_IN_PROGRESS"
    aborted = await suite.call(
        "DELETE", f"{API}/{rollout_id}", params={"tenant_id": suite.tenant, "reason": "bad"}
    )
    assert aborted["rollout"]["state"] == "ROLLOUT_STATE_ROLLED_BACK"
    retried = (await suite.call("POST", f"{base}:retry", json={}))["rollout"]
    assert (retried["attempt"], retried["retryOf"]) == (2, rollout_id)
    retry_base = f"/v1/tenants/{suite.tenant}/rollouts/{retried['rolloutId']}"
    promoted = await suite.call("POST", f"{retry_base}:promote", json={"full": True})
    assert promoted["rollout"]["percent"] == 100
    listed = await suite.call("GET", API, params={"tenant_id": suite.tenant, "plugin": PLUGIN})
    assert [r["rolloutId"] for r in listed["rollouts"]] == [retried["rolloutId"], rollout_id]
    audit = await suite.call("GET", f"/v1/tenants/{suite.tenant}/rollout-audit")
    assert [r["action"] for r in audit["records"]] == [
        "pause",
        "resume",
        "abort",
        "retry",
        "promote_full",
    ]
    # A rolled-back rollout cannot be paused: FAILED_PRECONDITION, as a problem document.
    refused = await suite.http.post(f"{base}:pause", json={})
    assert refused.status_code == 400, refused.text
    assert "ROLLED_BACK" in refused.text
