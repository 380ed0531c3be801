"""A policy-gated install, end to end: `portico up`, then the gateway only.

The tenant's policy sends every install to two approvers holding the role
security-approver. The admin registers three clients with auth (POST
/v1/auth/clients): two approvers with that role and one without. InstallSecure
(POST /api/plugins/install-secure) verifies and scores the tarball and opens
the approval; compat checks it; the client without the role is refused; once
the two approvers agree, each with its own token, security emits
plugin.install.approved, rollout requests the canary on it and, with both
checks passed and good outcomes reported, rolls it out to 100%. The audit
trail records every step.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portico_cli import credentials, endpoints
from portico_cli.api import ApiError, Gateway, TenantApi, Tokens
from portico_cli.artifact import b64, build
from portico_cli.events import EventFeed
from portico_cli.local_catalog import ENGINES, PEER_DEPENDENCIES, PLUGIN
from portico_cli.paths import Home
from portico_cli.scenario import Scenario
from portico_cli.timeline import Timeline

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

STARTUP_SECONDS = 180
VERSION = "3.0.0"


@pytest.fixture
def suite(tmp_path: Path) -> Iterator[Path]:
    """A running `portico up` on a fresh home; stopped with SIGTERM afterwards."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    log = (tmp_path / "up.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        # Port 0: the gateway binds a free port; endpoints.json says which.
        [sys.executable, "-m", "portico_cli", "up", "--home", str(home), "--gateway-port", "0"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not (home / "endpoints.json").exists():
            assert proc.poll() is None, (tmp_path / "up.log").read_text()
            assert time.monotonic() < deadline, "portico up did not come up in time"
            time.sleep(0.2)
        yield home
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(90)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()


async def poll(probe: Any, *, within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} did not happen within {within}s"
        await asyncio.sleep(0.2)


APPROVER_ROLE = "security-approver"


async def register_client(
    gateway: Gateway, admin: Tokens, client_id: str, tenant: str, roles: list[str]
) -> Tokens:
    """Registers a client for `tenant` with `roles` (admin's platform token); its Tokens."""
    secret = f"{client_id}-secret-0123456789"
    # Sealed by auth with the tenant's data key, and shown back to its readers.
    metadata = {"owner": f"{client_id}@{tenant}.example", "purpose": "e2e"}
    reply = await gateway.call(
        "POST",
        "/v1/auth/clients",
        body={
            "clientId": client_id,
            "clientSecret": secret,
            "tenants": [tenant],
            "scopes": ["installs.read", "installs.approve"],
            "roles": roles,
            "metadata": metadata,
        },
        token=await admin.get("*"),
    )
    assert reply.get("roles", []) == roles, reply
    assert reply.get("metadata") == metadata, reply
    got = await gateway.call("GET", f"/v1/auth/clients/{client_id}", token=await admin.get("*"))
    assert got["client"]["metadata"] == metadata, got
    return Tokens(gateway, client_id, secret)


async def gated_install(home: Path) -> None:
    found = endpoints.read(Home(home).endpoints)
    secret = credentials.admin_client_secret(Home(home).secrets)
    gateway = Gateway(found.gateway, timeout=30)
    tenant = f"e2e-install-{os.getpid()}"
    try:
        tokens = Tokens(gateway, found.admin_client_id, secret)
        out = io.StringIO()
        scenario = Scenario(
            gateway=gateway,
            tokens=tokens,
            tenant=tenant,
            timeline=Timeline(out),
            feed=EventFeed(tenant, on_event=lambda _: None, on_problem=lambda _: None),
        )
        await scenario.prepare()  # tenant, tokens, publisher key, host profile
        api = TenantApi(gateway, tokens, tenant)
        await api.call(
            "PUT",
            "/install-policy",
            {
                "actor": "platform-admin",
                "reason": "two reviewers for every plugin",
                "policy": {
                    "approvalBelowScore": 100,
                    "blockedSeverities": ["CRITICAL"],
                    "maxArtifactBytes": 1 << 20,
                    "approval": {
                        "required": 2,
                        "roles": [APPROVER_ROLE],
                        "timeoutSeconds": 3600,
                        "onDeadline": "DEADLINE_ACTION_EXPIRE",
                    },
                },
            },
        )
        artifact = build(
            PLUGIN, VERSION, scenario.key, engines=ENGINES, peer_dependencies=PEER_DEPENDENCIES
        )
        reply = await gateway.call(
            "POST",
            "/api/plugins/install-secure",
            body={
                "tenantId": tenant,
                "plugin": PLUGIN,
                "version": VERSION,
                "tarball": b64(artifact.tarball),
                "integrity": artifact.integrity,
                "signature": b64(artifact.signature),
                "keyId": artifact.key_id,
                "requestedBy": "dev-bob",
                "rolloutPhases": [50, 100],
                "rolloutBakeSeconds": 1,
            },
            token=await tokens.get(tenant),
        )
        request = reply["request"]
        assert request["status"] == "INSTALL_STATUS_PENDING_APPROVAL", request
        factors = {f["name"]: f for f in request["trust"]["factors"]}
        assert {"publisher", "security_history", "community", "quality", "update_cadence"} <= set(
            factors
        ), request["trust"]
        assert all(c["passed"] for c in reply["checks"]), reply["checks"]
        await scenario.check_compat(artifact)

        async def resolved() -> dict[str, Any]:
            return await api.call(
                "POST", "/plugins:resolve", {"userId": "user-01", "plugin": PLUGIN}
            )

        assert not (await resolved()).get("rolloutId"), "a rollout started before approval"
        path = f"/installs/{request['requestId']}:approve"
        suffix = os.getpid()
        approvers = [f"approver-a-{suffix}", f"approver-b-{suffix}"]
        first_api, second_api = [
            TenantApi(
                gateway, await register_client(gateway, tokens, c, tenant, [APPROVER_ROLE]), tenant
            )
            for c in approvers
        ]
        outsider = TenantApi(
            gateway,
            await register_client(gateway, tokens, f"viewer-{suffix}", tenant, ["viewer"]),
            tenant,
        )
        with pytest.raises(ApiError) as refused:
            await outsider.call("POST", path, {"approver": "alice", "role": APPROVER_ROLE})
        assert refused.value.status == 403, refused.value
        # Refused by the kernel before security runs: viewer lacks installs.approve.
        assert "missing permission 'installs.approve'" in refused.value.detail, refused.value
        # The stated name is not trusted: the token's subject is the approver.
        note = "reviewers only: the publisher confirmed the key by phone"
        first = await first_api.call(
            "POST", path, {"approver": "mallory", "role": APPROVER_ROLE, "privateNote": note}
        )
        assert first["request"]["status"] == "INSTALL_STATUS_PENDING_APPROVAL"
        assert first["request"]["approval"]["approvers"] == approvers[:1], first
        # An approver reads the private note; a viewer of the same request does not.
        assert [n["text"] for n in first["request"]["privateNotes"]] == [note], first
        seen = await outsider.call("GET", f"/installs/{request['requestId']}")
        assert seen["request"].get("privateNotes", []) == [], seen
        assert note not in json.dumps(seen)
        second = await second_api.call("POST", path, {"role": APPROVER_ROLE})
        assert second["request"]["approval"]["approvers"] == approvers, second

        async def rollout_id() -> str:
            return str((await resolved()).get("rolloutId") or "")

        rid = await poll(rollout_id, within=30, what="the rollout request")

        async def completed() -> dict[str, Any] | None:
            # No data is not success: the canary's users report good outcomes to slo.
            await api.call("POST", "/outcomes", scenario.outcomes(VERSION, 10, failures=0))
            rollout = (await api.call("GET", f"/rollouts/{rid}"))["rollout"]
            assert rollout["state"] not in ("ROLLOUT_STATE_REFUSED", "ROLLOUT_STATE_ROLLED_BACK")
            return rollout if rollout["state"] == "ROLLOUT_STATE_COMPLETED" else None

        rollout = await poll(completed, within=60, what="the rollout reaching 100%")
        assert rollout["version"] == VERSION
        assert rollout["phases"] == [50, 100]
        audit = await api.call("GET", "/audit-records")
        actions = [r["action"] for r in audit["records"]]
        assert actions == [
            "policy.set",
            "install.requested",
            "install.approval_required",
            "approval.approve",
            "approval.approve",
            "install.approved",
        ], json.dumps(audit, indent=1)
        assert not audit.get("chainProblems")
    finally:
        await gateway.close()


def test_policy_gated_install_goes_through_approval_to_rollout(suite: Path) -> None:
    """Two approvals turn a gated InstallSecure into a canary that reaches 100%."""
    asyncio.run(gated_install(suite))
