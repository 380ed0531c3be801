"""The tenant lifecycle end to end: `portico up` as processes, then the gateway only.

tenancy provisions with `gitops` into a bare git repository the suite makes,
so a tenant is active once its manifests are committed. A tenant admin's
token works in every service; SuspendTenant makes every service refuse it
within seconds (the time to the last refusal is measured and printed);
ResumeTenant lets it back. DeleteTenant refuses it again and is restorable;
after the grace period (2 s here) every service deletes the tenant's rows and
reports to tenancy, the teardown job removes the tenant's manifests from the
repository in one commit, and the tenant becomes deleted.
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
from portico_cli.ports import GRPC_BASE_PORT_VARIABLE
from portico_common.dbsetup import role_url

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

STARTUP_SECONDS = 180
REFUSAL_BOUND_SECONDS = 15.0
SCHEMAS = ("auth", "tenancy", "security", "compat", "rollout", "slo")
# What a deleted tenant leaves behind on purpose: tenancy's record of it and
# of its deletion, security's append-only audit, the kernel's event bookkeeping.
KEPT = {
    ("tenancy", "tenants"),
    ("tenancy", "jobs"),
    ("tenancy", "tenant_data_deletions"),
    # The shredded key ring's tombstone: no key is ever made for the tenant again.
    ("tenancy", "tenant_key_rings"),
    ("security", "audit_records"),
}
KERNEL = {"inbox", "outbox"}


def git(remote: Path, *args: str) -> str:
    return subprocess.run(  # noqa: S603 - a fixed git command on the suite's own repository
        ["git", f"--git-dir={remote}", *args],  # noqa: S607 - git from PATH
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture(scope="module")
def gitops_remote(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bare repository tenancy commits tenants' manifests to (branch main)."""
    path = tmp_path_factory.mktemp("gitops") / "platform.git"
    subprocess.run(  # noqa: S603 - a fixed git command on the test's own folder
        ["git", "init", "--quiet", "--bare", "--initial-branch=main", str(path)],  # noqa: S607
        check=True,
    )
    return path


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, gitops_remote: Path) -> Iterator[Path]:
    """One running `portico up` with a 2 s deletion grace period and gitops provisioning
    into `gitops_remote`; SIGTERM afterwards."""
    tmp_path = tmp_path_factory.mktemp("lifecycle")
    home = tmp_path / "home"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PORTICO_") or k == GRPC_BASE_PORT_VARIABLE
    }
    env |= {
        "PORTICO_DELETION_GRACE_SECONDS": "2",
        "PORTICO_DELETION_POLL_SECONDS": "0.5",
        "PORTICO_PROVISIONING": "gitops",
        "PORTICO_GITOPS_REPOSITORY": str(gitops_remote),
        "PORTICO_JOBS_POLL_SECONDS": "0.2",
    }
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
    """The gateway over HTTP with a platform admin, and the database as its superuser."""

    def __init__(self, home: Path, prefix: str = "lc") -> None:
        found = endpoints.read(Home(home).endpoints)
        superuser = json.loads(Home(home).secrets.read_text())["postgres"]["superuser"]
        self.database = role_url(found.database, "postgres", superuser)
        self.admin = (found.admin_client_id, credentials.admin_client_secret(Home(home).secrets))
        self.http = httpx.AsyncClient(base_url=found.gateway, timeout=30)
        self.tenant = f"{prefix}-{os.getpid()}-{time.monotonic_ns() % 100_000}"
        self._admin_token: dict[str, str] | None = None

    async def bearer(self, client_id: str, secret: str, tenant: str) -> dict[str, str]:
        response = await self.http.post(
            "/v1/auth/token",
            json={"clientId": client_id, "clientSecret": secret, "tenantId": tenant},
        )
        assert response.status_code == 200, response.text
        return {"authorization": f"Bearer {response.json()['accessToken']}"}

    async def call(
        self, method: str, path: str, headers: dict[str, str], body: Any = None
    ) -> httpx.Response:
        return await self.http.request(method, path, json=body, headers=headers)

    async def ok(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """A call as the platform admin that must succeed; its JSON."""
        # One admin token for the whole story: auth rate-limits token requests.
        if self._admin_token is None:
            self._admin_token = await self.bearer(*self.admin, "*")
        response = await self.call(method, path, self._admin_token, body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def probes(self) -> dict[str, tuple[str, str, Any]]:
        """One call per service, acting for the tenant (a refusal is a 403)."""
        t = f"/v1/tenants/{self.tenant}"
        return {
            "tenancy": ("GET", t, None),
            "auth": ("GET", f"/v1/auth/clients?tenantId={self.tenant}", None),
            "security": ("GET", f"{t}/install-policy", None),
            "compat": ("PUT", f"{t}/host-profile", {"backstageVersion": "1.30.0"}),
            "rollout": ("GET", f"{t}/rollouts/none", None),
            "slo": ("GET", f"{t}/slos", None),
        }

    async def refused_by(self, headers: dict[str, str]) -> dict[str, bool]:
        """Per service: whether the tenant's token was refused as suspended."""
        refused = {}
        for service, (method, path, body) in self.probes().items():
            response = await self.call(method, path, headers, body)
            refused[service] = (response.status_code == 403 and "suspended" in response.text) or (
                response.status_code == 403 and "deleting" in response.text
            )
        return refused

    async def rows(self) -> dict[tuple[str, str], int]:
        """(schema, table) -> the tenant's rows, for every table with a tenant_id."""
        conn = await asyncpg.connect(self.database)
        try:
            tables = await conn.fetch(
                """SELECT c.table_schema, c.table_name FROM information_schema.columns c
                     JOIN information_schema.tables t USING (table_schema, table_name)
                    WHERE c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'
                      AND c.table_schema = ANY($1::text[])""",
                list(SCHEMAS),
            )
            counts = {}
            for row in tables:
                key = (row["table_schema"], row["table_name"])
                counts[key] = await conn.fetchval(
                    f'SELECT count(*) FROM "{key[0]}"."{key[1]}" WHERE tenant_id = $1',  # noqa: S608 - names from the catalog
                    self.tenant,
                )
        finally:
            await conn.close()
        return counts


async def _until(check: Any, bound: float, what: str, *, every: float = 0.05) -> tuple[Any, float]:
    started = time.monotonic()
    while True:
        result = await check()
        if result:
            return result, time.monotonic() - started
        assert time.monotonic() - started < bound, f"{what} not within {bound} s"
        await asyncio.sleep(every)


def test_suspension_refuses_every_service_then_deletion_runs_the_saga(suite: Path) -> None:
    """Suspend -> every service refuses within seconds; resume; delete, restore, delete -> gone."""

    async def scenario() -> None:
        portal = Portal(suite)
        try:
            await _scenario(portal)
        finally:
            await portal.http.aclose()

    asyncio.run(scenario())


async def _created_and_provisioned(portal: Portal) -> None:
    """CreateTenant; the tenant provisions until its manifests are committed, then is active."""
    created = await portal.ok(
        "POST", "/v1/tenants", {"tenantId": portal.tenant, "displayName": "LC"}
    )
    assert created["tenant"]["state"] == "TENANT_STATE_PROVISIONING"

    async def active() -> bool:
        found = await portal.ok("GET", f"/v1/tenants/{portal.tenant}")
        return bool(found["tenant"]["state"] == "TENANT_STATE_ACTIVE")

    await _until(active, 30, "the tenant provisioned", every=0.2)


async def _deleted(portal: Portal) -> tuple[dict[str, Any], float]:
    """The tenant once DELETED, and how long that took."""
    last: list[dict[str, Any]] = []

    async def deleted() -> dict[str, Any] | None:
        found = await portal.ok("GET", f"/v1/tenants/{portal.tenant}")
        last[:] = [found["tenant"]]
        return found if found["tenant"]["state"] == "TENANT_STATE_DELETED" else None

    try:
        final: dict[str, Any]
        final, took = await _until(deleted, 30, "the deletion saga", every=0.25)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the tenant as last read: {last}") from None
    return final, took


async def _scenario(portal: Portal) -> None:
    tenant = portal.tenant
    await _created_and_provisioned(portal)
    client = (f"admin-{tenant}", f"admin-{tenant}-secret-0123456789")
    await portal.ok(
        "POST",
        "/v1/auth/clients",
        {
            "clientId": client[0],
            "clientSecret": client[1],
            "tenants": [tenant],
            "roles": ["tenant-admin"],
        },
    )
    as_tenant = await portal.bearer(*client, tenant)
    assert not any((await portal.refused_by(as_tenant)).values())
    # Some data in the services, to be deleted with the tenant.
    updated = await portal.ok(
        "PATCH",
        f"/v1/tenants/{tenant}",
        {"plan": "team", "labels": {"region": "eu"}, "updateMask": "plan,labels"},
    )
    assert updated["tenant"]["plan"] == "team"
    listed = await portal.ok("GET", "/v1/tenants?plan=team&labelSelector=region%3Deu&pageSize=500")
    assert tenant in [t["tenantId"] for t in listed["tenants"]]

    # ---- suspension: refused by every service within seconds, then resumed
    started = time.monotonic()
    await portal.ok("POST", f"/v1/tenants/{tenant}:suspend", {"reason": "unpaid invoice"})
    first: dict[str, float] = {}

    async def all_refuse() -> bool:
        for service, refused in (await portal.refused_by(as_tenant)).items():
            if refused and service not in first:
                first[service] = time.monotonic() - started
        return len(first) == len(SCHEMAS)

    await _until(all_refuse, REFUSAL_BOUND_SECONDS, "refusal by every service")
    figures = ", ".join(f"{s} {ms * 1000:.0f} ms" for s, ms in sorted(first.items()))
    print(f"SuspendTenant to refusal: {figures}")
    await portal.ok("POST", f"/v1/tenants/{tenant}:resume", {})

    async def none_refuse() -> bool:
        return not any((await portal.refused_by(as_tenant)).values())

    await _until(none_refuse, REFUSAL_BOUND_SECONDS, "every service serving the tenant again")
    security = await portal.call(
        "PUT",
        f"/v1/tenants/{tenant}/install-policy",
        as_tenant,
        {
            "actor": "ops",
            "reason": "lifecycle",
            "policy": {
                "approvalBelowScore": 50,
                "maxArtifactBytes": 1048576,
                "approval": {
                    "required": 1,
                    "roles": ["security-approver"],
                    "timeoutSeconds": 3600,
                    "onDeadline": "DEADLINE_ACTION_EXPIRE",
                },
            },
        },
    )
    assert security.status_code == 200, security.text
    compat = await portal.call(
        "PUT",
        f"/v1/tenants/{tenant}/host-profile",
        as_tenant,
        {"backstageVersion": "1.30.0", "nodeVersion": "20.11.0", "packages": {}},
    )
    assert compat.status_code == 200, compat.text
    before = await portal.rows()
    assert before[("compat", "host_profiles")] == 1
    assert sum(n for (schema, _), n in before.items() if schema == "security") > 0

    # ---- deletion: refused, restorable, then the saga after the grace period
    deleting = await portal.ok("DELETE", f"/v1/tenants/{tenant}")
    assert deleting["tenant"]["state"] == "TENANT_STATE_DELETING"
    restored = await portal.ok("POST", f"/v1/tenants/{tenant}:restore", {})
    assert restored["tenant"]["state"] == "TENANT_STATE_ACTIVE"
    await portal.ok("DELETE", f"/v1/tenants/{tenant}")

    final, took = await _deleted(portal)
    print(f"DeleteTenant to deleted (2 s grace included): {took:.1f} s")
    assert final["tenant"]["pendingServices"] == []
    after = await portal.rows()
    left = {key: n for key, n in after.items() if n and key not in KEPT and key[1] not in KERNEL}
    assert left == {}, f"rows of the deleted tenant remain: {left}"
    assert any(await portal.refused_by(as_tenant)), "a deleted tenant's token still works"


def test_deleting_a_gitops_tenant_removes_its_manifests_in_one_commit(
    suite: Path, gitops_remote: Path
) -> None:
    """Create: the manifests are committed; DELETE through the gateway: after the grace
    period the teardown removes the tenant's whole folder in one commit, and the tenant
    is deleted."""

    async def scenario() -> None:
        portal = Portal(suite, prefix="gitops")
        try:
            await _gitops_scenario(portal, gitops_remote)
        finally:
            await portal.http.aclose()

    asyncio.run(scenario())


async def _gitops_scenario(portal: Portal, remote: Path) -> None:
    tenant = portal.tenant
    folder = f"tenants/tenant-{tenant}"
    await _created_and_provisioned(portal)
    manifests = git(remote, "ls-tree", "-r", "--name-only", "main", folder).splitlines()
    assert f"{folder}/namespace-tenant-{tenant}.yaml" in manifests
    assert f"{folder}/resourcequota-tenant-quota.yaml" in manifests
    assert f"{folder}/kustomization.yaml" in manifests
    assert git(remote, "log", "--format=%s", "main", "--", folder).splitlines() == [
        f"provision tenant {tenant}"
    ]

    deleting = await portal.ok("DELETE", f"/v1/tenants/{tenant}")
    assert deleting["tenant"]["state"] == "TENANT_STATE_DELETING"
    final, took = await _deleted(portal)
    print(f"gitops DeleteTenant to deleted (2 s grace included): {took:.1f} s")
    assert final["tenant"]["pendingServices"] == []

    # One commit removed every file of the folder, and nothing else touched it.
    history = git(remote, "log", "--format=%H %s", "main", "--", folder).splitlines()
    assert [line.split(" ", 1)[1] for line in history] == [
        f"remove tenant {tenant}",
        f"provision tenant {tenant}",
    ]
    removal = history[0].split(" ", 1)[0]
    changed = git(remote, "show", "--format=", "--name-status", removal).splitlines()
    assert sorted(changed) == sorted(f"D\t{path}" for path in manifests)
    assert git(remote, "ls-tree", "-r", "--name-only", "main", folder) == ""
