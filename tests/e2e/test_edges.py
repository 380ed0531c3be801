"""The suite's edges, end to end: `portico up`, then what an outsider can send it.

Each check is one of the findings made against `make run`: a request body nested
5,000 levels deep answered 500, a version `1.0.0.0.0-` was accepted into a rollout,
responses carried no `X-Content-Type-Options`, token responses could be cached.
Here they are refused or fixed through the real gateway and the real services;
and `portico up` serves gRPC reflection for local tooling (off elsewhere).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from portico_cli import credentials, endpoints, tls
from portico_cli.paths import Home
from portico_common.tls import GrpcClientTls, grpc_channel

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

STARTUP_SECONDS = 180
PLUGIN = "@acme/plugin-cost-insights"


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


async def reflected_services(target: str, tls: GrpcClientTls | None) -> list[str]:
    async with grpc_channel(target, tls) as channel:
        call = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
        )
        async for response in call:
            return sorted(s.name for s in response.list_services_response.service)
    return []


async def probe_edges(home: Path) -> None:
    found = endpoints.read(Home(home).endpoints)
    secret = credentials.admin_client_secret(Home(home).secrets)
    tenant = f"e2e-edges-{os.getpid()}"
    async with httpx.AsyncClient(base_url=found.gateway, timeout=30) as http:
        responses: list[httpx.Response] = []

        async def token_for(tenant_id: str) -> str:
            issued = await http.post(
                "/v1/auth/token",
                json={
                    "clientId": found.admin_client_id,
                    "clientSecret": secret,
                    "tenantId": tenant_id,
                },
            )
            responses.append(issued)
            assert issued.status_code == 200, issued.text
            # A token response is never kept by a cache.
            assert issued.headers["cache-control"] == "no-store"
            assert issued.headers["pragma"] == "no-cache"
            token: str = issued.json()["accessToken"]
            return token

        admin = {"authorization": f"Bearer {await token_for('*')}"}
        created = await http.post("/v1/tenants", json={"tenantId": tenant}, headers=admin)
        responses.append(created)
        assert created.status_code == 200, created.text
        auth = {"authorization": f"Bearer {await token_for(tenant)}"}
        rollouts = f"/v1/tenants/{tenant}/rollouts"

        # Nested 5,000 levels deep: a 400 problem, not a 500 from a RecursionError.
        deep = b'{"plugin": ' + b"[" * 5000 + b"]" * 5000 + b', "version": "1.0.0"}'
        nested = await http.post(
            rollouts, content=deep, headers={**auth, "content-type": "application/json"}
        )
        responses.append(nested)
        assert nested.status_code == 400, nested.text
        assert nested.headers["content-type"] == "application/problem+json"
        assert nested.json()["type"] == "urn:portico:problem:json-too-deep"

        # Not a version npm could publish: refused by rollout, naming the field.
        bad = await http.post(
            rollouts, json={"plugin": PLUGIN, "version": "1.0.0.0.0-"}, headers=auth
        )
        responses.append(bad)
        assert bad.status_code == 400, bad.text
        problem = bad.json()
        assert problem["grpc_code"] == "INVALID_ARGUMENT"
        assert problem["detail"].startswith("invalid version '1.0.0.0.0-'"), problem
        missing = await http.get(f"{rollouts}/no-such-rollout", headers=auth)
        responses.append(missing)
        assert missing.status_code == 404, missing.text

        good = await http.post(rollouts, json={"plugin": PLUGIN, "version": "1.0.0"}, headers=auth)
        responses.append(good)
        assert good.status_code == 200, good.text

        for response in responses:
            assert response.headers["x-content-type-options"] == "nosniff", response.request.url

    # `portico up` is for development: its services answer grpcurl (with the CLI's
    # certificate of the home's CA: they serve mutual TLS and admit nothing else).
    rollout = found.services["rollout"].grpc
    client = tls.cli_grpc(tls.cli_ca(Home(home)))
    assert client is not None
    assert "portico.rollout.v1.RolloutService" in await reflected_services(rollout, client)
    with pytest.raises(grpc.aio.AioRpcError) as plaintext:
        await reflected_services(rollout, None)
    assert plaintext.value.code() == grpc.StatusCode.UNAVAILABLE
    ca_only = GrpcClientTls(client.root_certificates)
    with pytest.raises(grpc.aio.AioRpcError) as no_certificate:
        await reflected_services(rollout, ca_only)
    assert no_certificate.value.code() == grpc.StatusCode.UNAVAILABLE


def test_the_edges_refuse_what_an_outsider_sent(suite: Path) -> None:
    """Deep JSON and a non-semver version are 400s; headers are set; reflection serves locally."""
    asyncio.run(probe_edges(suite))
