"""Per-tenant keys end to end: `portico up`, then the gateway, with tokens checked everywhere.

slo fetches the tenant's data key from tenancy as its own identity (svc-slo,
role `service`) to seal a channel's secrets; a platform admin describes the
tenant's keys, shreds them, and from then on the channel's secrets no longer
open, while the ciphertext is still in slo's table. Nobody but a service
receives a key: GetDataKeys has no HTTP route, and tenancy refuses even a
platform admin over gRPC.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import grpc
import httpx
import pytest

from portico.tenancy.v1 import keys_pb2, keys_pb2_grpc
from portico_cli import credentials, endpoints, tls
from portico_cli.paths import Home
from portico_common.crypto.envelope import is_sealed
from portico_common.dbsetup import role_url
from portico_common.tls import grpc_channel

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

STARTUP_SECONDS = 180
CACHE_SECONDS = 2
HOOK = "https://hooks.example/tenant-keys-e2e"


@pytest.fixture
def suite(tmp_path: Path) -> Iterator[Path]:
    """A running `portico up` (its own home); stopped with SIGTERM afterwards."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
    # Services keep a tenant's keys this long: a shred takes effect within it.
    env["PORTICO_DATA_KEY_CACHE_SECONDS"] = str(CACHE_SECONDS)
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


async def _scenario(home: Path) -> None:
    found = endpoints.read(Home(home).endpoints)
    superuser = json.loads(Home(home).secrets.read_text())["postgres"]["superuser"]
    admin_id, admin_secret = (
        found.admin_client_id,
        credentials.admin_client_secret(Home(home).secrets),
    )
    tenant = f"keys-{os.getpid()}-{time.monotonic_ns() % 100_000}"
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    async with httpx.AsyncClient(base_url=found.gateway, timeout=30) as http:
        token = await http.post(
            "/v1/auth/token",
            json={"clientId": admin_id, "clientSecret": admin_secret, "tenantId": tenant},
        )
        assert token.status_code == 200, token.text
        bearer = {"authorization": f"Bearer {token.json()['accessToken']}"}

        created = await http.post(
            f"/v1/tenants/{tenant}/alerting/channels",
            headers=bearer,
            json={"name": "hook", "webhook": {"url": HOOK, "signingSecret": secret}},
        )
        assert created.status_code == 200, created.text
        channel_id = created.json()["channel"]["channelId"]

        described = await http.get(f"/v1/tenants/{tenant}/data-keys", headers=bearer)
        assert described.status_code == 200, described.text
        assert described.json()["primaryVersion"] == 1
        assert [k["kms"] for k in described.json()["keys"]] == ["local"]

        tenancy_target = found.services["tenancy"].grpc
        # The CLI's own client certificate (portico up serves gRPC over mutual TLS).
        client_tls = tls.cli_grpc(tls.cli_ca(Home(home)))
        async with grpc_channel(tenancy_target, client_tls) as channel:
            stub = keys_pb2_grpc.TenantKeysServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.GetDataKeys(
                    keys_pb2.GetDataKeysRequest(tenant_id=tenant), metadata=list(bearer.items())
                )
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED

        shred = await http.post(f"/v1/tenants/{tenant}/data-keys:shred", headers=bearer, json={})
        assert shred.status_code == 200, shred.text
        assert shred.json()["destroyed"] == 1

        # slo keeps a tenant's keys for up to PORTICO_DATA_KEY_CACHE_SECONDS.
        deadline = time.monotonic() + CACHE_SECONDS + 10
        while True:
            changed = await http.patch(
                f"/v1/tenants/{tenant}/alerting/channels/{channel_id}",
                headers=bearer,
                json={"sendResolved": False},
            )
            if changed.status_code != 200 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        assert changed.status_code == 400, changed.text
        assert "destroyed" in changed.text

    conn = await asyncpg.connect(role_url(found.database, "postgres", superuser))
    try:
        sealed = await conn.fetchval(
            "SELECT sealed_secrets FROM slo.alert_channels WHERE tenant_id = $1", tenant
        )
    finally:
        await conn.close()
    assert is_sealed(sealed)
    assert HOOK.encode() not in sealed


def test_a_service_seals_with_the_tenant_key_and_shredding_it_makes_secrets_unreadable(
    suite: Path,
) -> None:
    """Through the gateway with real tokens: sealed by slo, keys described, shredded, unreadable."""
    asyncio.run(_scenario(suite))
