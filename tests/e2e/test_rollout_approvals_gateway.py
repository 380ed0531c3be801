"""A phase's approval gate decided over HTTP by approvers holding real tokens.

auth, slo and rollout run as their own processes on real PostgreSQL and NATS
JetStream, every one of them checking tokens (slo and rollout against auth's
keys; rollout calls slo as svc-rollout); the gateway app answers HTTP in this
process in front of all three. The platform admin registers three clients for
the tenant with auth: two release managers and a viewer. The canary's second
phase needs two release-manager approvals: the viewer is refused (403, it
lacks rollouts.approve), a release manager voting as a role its token does
not carry is refused (403), each approver's vote is recorded under the
subject of its own token, and once both approve the rollout advances and
completes.
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
from portico_embedded.testing.fixtures import unique_tenant
from portico_embedded.testing.services import infra_env, running_process
from portico_gateway.app import create_app

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PLUGIN = "@acme/plugin-cost-insights"
ADMIN_ID = "portico-admin"
ADMIN_SECRET = "admin-secret-for-approvals-0123"
KEK = "kek-for-approvals-0123456789-0123456789"
ROLLOUT_SECRET = "svc-rollout-secret-0123456789"
APPROVER_ROLE = "release-manager"


@dataclass
class Portal:
    """The gateway over HTTP, as a portal would use it, with the tenant of the test."""

    http: httpx.AsyncClient
    nats_url: str
    tenant: str

    async def token(self, client_id: str, secret: str, tenant: str) -> str:
        reply = await self.http.post(
            "/v1/auth/token",
            json={"clientId": client_id, "clientSecret": secret, "tenantId": tenant},
        )
        assert reply.status_code == 200, reply.text
        token: str = reply.json()["accessToken"]
        return token

    async def call(
        self, method: str, path: str, token: str, *, expect: int = 200, **kwargs: Any
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"}
        response = await self.http.request(method, path, headers=headers, **kwargs)
        assert response.status_code == expect, (method, path, response.text)
        body: dict[str, Any] = response.json()
        return body

    async def register(self, admin: str, client_id: str, roles: list[str]) -> str:
        """A client of the tenant with `roles`, registered by the platform admin; its token."""
        secret = f"{client_id}-secret-0123456789"
        registered = await self.call(
            "POST",
            "/v1/auth/clients",
            admin,
            json={
                "clientId": client_id,
                "clientSecret": secret,
                "tenants": [self.tenant],
                "scopes": ["rollouts.*"],
                "roles": roles,
            },
        )
        assert registered["roles"] == roles, registered
        return await self.token(client_id, secret, self.tenant)

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


async def until(probe: Callable[[], Awaitable[Any]], within: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await probe()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, f"not within {within}s: {probe}"
        await asyncio.sleep(0.2)


@pytest.fixture
async def portal(
    service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> AsyncIterator[Portal]:
    """auth, slo and rollout as processes checking tokens; the gateway before all three."""
    for name in ("auth", "slo", "rollout"):
        (tmp_path / name).mkdir()
    auth_env = infra_env(
        await service_database_url("auth"),
        nats_url,
        auth_admin_client_id=ADMIN_ID,
        auth_admin_client_secret=ADMIN_SECRET,
        auth_key_encryption_key=KEK,
        auth_service_client_secrets=f'{{"rollout": "{ROLLOUT_SECRET}"}}',
    )
    async with running_process("portico_auth", auth_env, tmp_path / "auth") as auth:
        slo_env = infra_env(await service_database_url("slo"), nats_url, auth_target=auth.target)
        async with running_process("portico_slo", slo_env, tmp_path / "slo") as slo:
            rollout_env = infra_env(
                await service_database_url("rollout"),
                nats_url,
                auth_target=auth.target,
                auth_client_id="svc-rollout",
                auth_client_secret=ROLLOUT_SECRET,
                rollout_slo_target=slo.target,
                rollout_tick_seconds="0.1",
                rollout_recheck_seconds="1",
            )
            async with running_process(
                "portico_rollout", rollout_env, tmp_path / "rollout"
            ) as rollout:
                app = create_app(
                    {"auth": auth.target, "slo": slo.target, "rollout": rollout.target},
                    registry=CollectorRegistry(),
                )
                async with (
                    app.router.lifespan_context(app),
                    httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=app), base_url="http://gw", timeout=20
                    ) as http,
                ):
                    yield Portal(http, nats_url, unique_tenant())


async def test_approvers_with_real_tokens_open_a_phase_gate_over_http(portal: Portal) -> None:
    """Two release managers approve over HTTP; a viewer and a borrowed role get 403."""
    admin = await portal.token(ADMIN_ID, ADMIN_SECRET, "*")
    first = await portal.register(admin, f"{portal.tenant}-rm-1", [APPROVER_ROLE])
    second = await portal.register(admin, f"{portal.tenant}-rm-2", [APPROVER_ROLE])
    viewer = await portal.register(admin, f"{portal.tenant}-viewer", ["viewer"])
    base = f"/v1/tenants/{portal.tenant}/rollouts"
    created = await portal.call(
        "POST",
        base,
        first,
        json={
            "plugin": PLUGIN,
            "version": "2.3.0",
            "plan": [
                {"percent": 10, "bakeSeconds": 1, "criteria": {"minSamples": 0}},
                {
                    "percent": 100,
                    "bakeSeconds": 1,
                    "criteria": {"minSamples": 0},
                    "approval": {
                        "required": 2,
                        "roles": [APPROVER_ROLE],
                        "timeoutSeconds": 3600,
                        "onDeadline": "GATE_DEADLINE_ACTION_EXPIRE",
                    },
                },
            ],
        },
    )
    rollout_id = created["rollout"]["rolloutId"]
    await portal.checks_pass("2.3.0")

    async def awaiting() -> dict[str, Any] | None:
        found = await portal.call("GET", f"{base}/{rollout_id}", viewer)
        approval = found["rollout"].get("livePhase", {}).get("approval")
        return found if approval and approval.get("state") == "PENDING" else None

    held = await until(awaiting)
    assert held["rollout"]["percent"] == 10
    assert held["decisions"][0]["source"] == "approval"
    decide = f"{base}/{rollout_id}/phases/1:decide"
    vote = {"approve": True, "role": APPROVER_ROLE, "comment": "looks good"}

    # A viewer may read the rollout but not decide its gate: the interceptor says 403.
    refused = await portal.call("POST", decide, viewer, json=vote, expect=403)
    assert "rollouts.approve" in str(refused), refused
    # A release manager cannot vote as a role its token does not carry.
    borrowed = await portal.call(
        "POST", decide, first, json={**vote, "role": "tenant-admin"}, expect=403
    )
    assert "tenant-admin" in str(borrowed), borrowed

    recorded = await portal.call("POST", decide, first, json=vote)
    assert recorded["step"] == "RECORDED"
    assert recorded["rollout"]["percent"] == 10, "one approval of two opens nothing"
    again = await portal.call("POST", decide, first, json=vote)
    assert again["step"] == "DUPLICATE", "the same approver counts once"
    approved = await portal.call("POST", decide, second, json=vote)
    assert approved["step"] == "APPROVED"
    assert approved["rollout"]["percent"] == 100

    async def completed() -> dict[str, Any] | None:
        found = await portal.call("GET", f"{base}/{rollout_id}", viewer)
        return found if found["rollout"]["state"] == "ROLLOUT_STATE_COMPLETED" else None

    await until(completed)
    # The votes are recorded under each token's subject, not a name the body gave.
    audit = await portal.call("GET", f"/v1/tenants/{portal.tenant}/rollout-audit", admin)
    approvals = [r for r in audit["records"] if r["action"] == "approve"]
    assert sorted(r["actor"] for r in approvals) == sorted(
        [f"{portal.tenant}-rm-1", f"{portal.tenant}-rm-2"]
    ), approvals
