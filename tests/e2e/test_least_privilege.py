"""Least privilege end to end: `portico up`, then the gateway only (and the audit tables).

The two findings as an outsider reproduced them: a client registered for one
tenant with no roles changed the tenant's install policy (`PUT
/v1/tenants/{t}/install-policy`) and reset its usage (`PUT
/v1/tenants/{t}/usage`), both 200. Now both are 403 problems naming the
missing permission, each recorded in the service's access_denials with the
token's subject. Beside them: quotas by their owner and usage by nobody, a tenant
admin managing its own clients within its own roles, and token issuance that
slows down and locks out.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from portico_cli import credentials, endpoints
from portico_cli.paths import Home
from portico_common.dbsetup import role_url

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

STARTUP_SECONDS = 180
PROBLEM_JSON = "application/problem+json"


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One running `portico up` for this module's tests; stopped with SIGTERM afterwards."""
    tmp_path = tmp_path_factory.mktemp("least-privilege")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    log = (tmp_path / "up.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
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


class Portal:
    """The gateway over HTTP, as a portal or a script would use it."""

    def __init__(self, home: Path) -> None:
        found = endpoints.read(Home(home).endpoints)
        # endpoints.json names the server without credentials: read as the superuser.
        superuser = json.loads(Home(home).secrets.read_text())["postgres"]["superuser"]
        self.database = role_url(found.database, "postgres", superuser)
        self.admin = (found.admin_client_id, credentials.admin_client_secret(Home(home).secrets))
        self.http = httpx.AsyncClient(base_url=found.gateway, timeout=30)
        self.tenant = f"lp-{os.getpid()}-{time.monotonic_ns() % 100_000}"

    async def close(self) -> None:
        await self.http.aclose()

    async def token(self, client_id: str, secret: str, tenant: str) -> httpx.Response:
        return await self.http.post(
            "/v1/auth/token",
            json={"clientId": client_id, "clientSecret": secret, "tenantId": tenant},
        )

    async def bearer(self, client_id: str, secret: str, tenant: str) -> dict[str, str]:
        response = await self.token(client_id, secret, tenant)
        assert response.status_code == 200, response.text
        return {"authorization": f"Bearer {response.json()['accessToken']}"}

    async def as_admin(self, tenant: str = "*") -> dict[str, str]:
        return await self.bearer(*self.admin, tenant)

    async def call(
        self, method: str, path: str, headers: dict[str, str], body: Any = None
    ) -> httpx.Response:
        return await self.http.request(method, path, json=body, headers=headers)

    async def register(
        self, client_id: str, roles: list[str], *, by: dict[str, str] | None = None
    ) -> tuple[str, str]:
        """Registers a client of this portal's tenant; its id and secret."""
        secret = f"{client_id}-secret-0123456789"
        response = await self.call(
            "POST",
            "/v1/auth/clients",
            by or await self.as_admin(),
            {
                "clientId": client_id,
                "clientSecret": secret,
                "tenants": [self.tenant],
                "roles": roles,
            },
        )
        assert response.status_code == 200, response.text
        return client_id, secret

    async def denials(self, schema: str, subject: str) -> list[tuple[str, str, str]]:
        conn = await asyncpg.connect(self.database)
        try:
            rows = await conn.fetch(
                f"SELECT tenant_id, method, permission FROM {schema}.access_denials"  # noqa: S608 - a schema name we chose
                " WHERE subject = $1 ORDER BY id",
                subject,
            )
        finally:
            await conn.close()
        return [(r["tenant_id"], r["method"].rsplit("/", 1)[-1], r["permission"]) for r in rows]


def _forbidden(response: httpx.Response, permission: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem = response.json()
    assert problem["status"] == 403
    assert problem["grpc_code"] == "PERMISSION_DENIED"
    assert problem["detail"].startswith(f"missing permission '{permission}'"), problem


async def _with_portal(home: Path, scenario: Any) -> None:
    portal = Portal(home)
    try:
        response = await portal.call(
            "POST", "/v1/tenants", await portal.as_admin(), {"tenantId": portal.tenant}
        )
        assert response.status_code == 200, response.text
        await scenario(portal)
    finally:
        await portal.close()


def test_a_client_without_roles_can_neither_loosen_policy_nor_reset_usage(suite: Path) -> None:
    """The issue's two 200s are now 403 problems naming the permission, and recorded."""

    async def scenario(portal: Portal) -> None:
        nobody = await portal.register(f"nobody-{portal.tenant}", [])
        token = await portal.bearer(*nobody, portal.tenant)
        policy = await portal.call(
            "PUT",
            f"/v1/tenants/{portal.tenant}/install-policy",
            token,
            {
                "actor": "mallory",
                "reason": "approve everything",
                "policy": {"approvalBelowScore": 0, "maxArtifactBytes": 1 << 20},
            },
        )
        _forbidden(policy, "install_policy.write")
        usage = await portal.call(
            "PUT",
            f"/v1/tenants/{portal.tenant}/usage",
            token,
            {"used": {"cpuMillicores": 0, "memoryMib": 0, "storageMib": 0}, "plugins": 0},
        )
        _forbidden(usage, "usage.record")
        assert await portal.denials("security", nobody[0]) == [
            (portal.tenant, "SetInstallPolicy", "install_policy.write")
        ]
        assert await portal.denials("tenancy", nobody[0]) == [
            (portal.tenant, "RecordUsage", "usage.record")
        ]

    asyncio.run(_with_portal(suite, scenario))


def test_quotas_are_the_platforms_and_usage_is_reported_by_nobody(suite: Path) -> None:
    """The tenant's admin cannot set its quota; the platform can; usage is derived, not reported.

    A service identity passes RecordUsage's permission check and is then told
    usage comes from install and rollout events.
    """

    async def scenario(portal: Portal) -> None:
        admin = await portal.register(f"admin-{portal.tenant}", ["tenant-admin"])
        quota = {"limits": {"cpuMillicores": 4000, "memoryMib": 8192, "storageMib": 1024}}
        path = f"/v1/tenants/{portal.tenant}"
        refused = await portal.call(
            "PUT", f"{path}/quota", await portal.bearer(*admin, portal.tenant), quota
        )
        _forbidden(refused, "quotas.write")
        done = await portal.call("PUT", f"{path}/quota", await portal.as_admin(), quota)
        assert done.status_code == 200, done.text
        service = await portal.register(f"recorder-{portal.tenant}", ["service"])
        usage = {"used": {"cpuMillicores": 500}, "plugins": 1}
        recorded = await portal.call(
            "PUT", f"{path}/usage", await portal.bearer(*service, portal.tenant), usage
        )
        assert recorded.status_code == 400, recorded.text
        assert recorded.json()["grpc_code"] == "FAILED_PRECONDITION"
        assert "usage is derived" in recorded.json()["detail"]
        read = await portal.call("GET", f"{path}/quota", await portal.as_admin())
        assert read.status_code == 200, read.text
        assert "usage" not in read.json()

    asyncio.run(_with_portal(suite, scenario))


def test_a_tenant_admin_manages_its_clients_within_its_own_roles(suite: Path) -> None:
    """Registers, rotates and disables its tenant's clients; never grants beyond tenant-admin."""

    async def scenario(portal: Portal) -> None:
        admin = await portal.register(f"ta-{portal.tenant}", ["tenant-admin"])
        as_admin = await portal.bearer(*admin, portal.tenant)
        dev = await portal.register(f"dev-{portal.tenant}", ["developer"], by=as_admin)
        too_much = await portal.call(
            "POST",
            "/v1/auth/clients",
            as_admin,
            {
                "clientId": f"approver-{portal.tenant}",
                "clientSecret": "approver-secret-0123456789",
                "tenants": [portal.tenant],
                "roles": ["security-approver"],
            },
        )
        assert too_much.status_code == 403, too_much.text
        assert "roles ['security-approver']" in too_much.json()["detail"]
        unknown = await portal.call(
            "PUT", f"/v1/auth/clients/{dev[0]}/roles", as_admin, {"roles": ["root"]}
        )
        assert unknown.status_code == 400, unknown.text
        assert "unknown roles ['root']" in unknown.json()["detail"]
        rotated = await portal.call("POST", f"/v1/auth/clients/{dev[0]}:rotateSecret", as_admin, {})
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["clientSecret"]
        assert (await portal.token(dev[0], dev[1], portal.tenant)).status_code == 401
        assert (await portal.token(dev[0], new_secret, portal.tenant)).status_code == 200
        listed = await portal.call("GET", f"/v1/auth/clients?tenantId={portal.tenant}", as_admin)
        assert listed.status_code == 200, listed.text
        assert "secret" not in listed.text.lower()
        assert {c["clientId"] for c in listed.json()["clients"]} >= {admin[0], dev[0]}
        disabled = await portal.call("POST", f"/v1/auth/clients/{dev[0]}:disable", as_admin, {})
        assert disabled.status_code == 200, disabled.text
        refused = await portal.token(dev[0], new_secret, portal.tenant)
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"] == f"client '{dev[0]}' is disabled"

    asyncio.run(_with_portal(suite, scenario))


def test_bad_secrets_lock_a_client_out_with_a_retry_hint(suite: Path) -> None:
    """Five bad secrets, then even the right one is 429 with Retry-After; no token leaks."""

    async def scenario(portal: Portal) -> None:
        bot = await portal.register(f"bot-{portal.tenant}", ["viewer"])
        for _ in range(5):
            wrong = await portal.token(bot[0], "not-the-secret-0123456789", portal.tenant)
            assert wrong.status_code == 401, wrong.text
        locked = await portal.token(*bot, portal.tenant)
        assert locked.status_code == 429, locked.text
        assert locked.headers["content-type"].startswith(PROBLEM_JSON)
        assert "locked out after 5 failed attempts" in locked.json()["detail"]
        assert 0 < int(locked.headers["retry-after"]) <= 900
        assert "accessToken" not in locked.text

    asyncio.run(_with_portal(suite, scenario))
