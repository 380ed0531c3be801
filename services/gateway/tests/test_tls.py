"""TLS at the gateway: to its upstreams (mutual, when they ask), and HTTPS when configured."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest

from portico.auth.v1 import auth_pb2, auth_pb2_grpc
from portico_common.settings import ServiceSettings
from portico_common.tls import GrpcClientTls, grpc_server_credentials
from portico_embedded.local_ca import LocalCa, ensure
from portico_gateway.app import create_app
from portico_gateway.settings import GatewaySettings


class KeysOnly(auth_pb2_grpc.AuthServiceServicer):
    async def GetJwks(  # noqa: N802 - the generated servicer's method name
        self, _request: auth_pb2.GetJwksRequest, _context: grpc.aio.ServicerContext
    ) -> auth_pb2.GetJwksResponse:
        key = auth_pb2.JsonWebKey(kty="OKP", crv="Ed25519", x="11qYAYKxCrfVS_7TyWQHOg", kid="k1")
        return auth_pb2.GetJwksResponse(keys=[key])


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalCa, LocalCa]:
    """Our CA (auth, the gateway) and another one."""
    root = tmp_path_factory.mktemp("pki")
    return ensure(root / "ours", ["auth", "gateway"]).ca, ensure(root / "other", ["gateway"]).ca


@pytest.fixture
async def mutual_auth(pki: tuple[LocalCa, LocalCa]) -> AsyncIterator[str]:
    """The fake auth serving mutual TLS: a client certificate of our CA is required."""
    ours, _ = pki
    server = grpc.aio.server()
    auth_pb2_grpc.add_AuthServiceServicer_to_server(KeysOnly(), server)
    pair = ours.leaf("auth")
    credentials = grpc_server_credentials(
        ServiceSettings(
            grpc_tls_cert_file=str(pair.cert),
            grpc_tls_key_file=str(pair.key),
            grpc_tls_client_ca_file=str(ours.ca_cert),
        )
    )
    assert credentials is not None
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(grace=None)


async def _jwks_status(target: str, tls: GrpcClientTls | None) -> int:
    app = create_app({"auth": target}, upstream_tls=tls)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http,
    ):
        return (await http.get("/.well-known/jwks.json")).status_code


def _client(trusts: LocalCa, identity: LocalCa | None) -> GrpcClientTls:
    if identity is None:
        return GrpcClientTls.from_files(str(trusts.ca_cert))
    pair = identity.leaf("gateway")
    return GrpcClientTls.from_files(str(trusts.ca_cert), str(pair.cert), str(pair.key))


async def test_upstream_calls_go_over_mutual_tls_with_the_gateways_certificate(
    mutual_auth: str, pki: tuple[LocalCa, LocalCa]
) -> None:
    """With our CA and its certificate the call goes through; otherwise the upstream is down."""
    ours, other = pki
    assert await _jwks_status(mutual_auth, _client(ours, ours)) == 200
    assert await _jwks_status(mutual_auth, _client(ours, None)) == 503  # no client certificate
    assert await _jwks_status(mutual_auth, _client(ours, other)) == 503  # another CA's
    assert await _jwks_status(mutual_auth, _client(other, other)) == 503  # auth not believed
    assert await _jwks_status(mutual_auth, None) == 503  # plaintext


def test_half_a_serving_pair_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTICO_GATEWAY_TLS_CERT_FILE", "/etc/gateway.crt")
    with pytest.raises(ValueError, match="go together"):
        GatewaySettings()


async def test_the_process_serves_https_when_given_a_certificate(
    tmp_path: Path, pki: tuple[LocalCa, LocalCa]
) -> None:
    """PORTICO_GATEWAY_TLS_*: HTTPS that a client trusting our CA accepts; no plain HTTP."""
    ours, _ = pki
    ready_file = tmp_path / "gateway.ready.json"
    pair = ours.leaf("gateway")
    env = {
        **os.environ,
        "PORTICO_GATEWAY_PORT": "0",
        "PORTICO_GATEWAY_READY_FILE": str(ready_file),
        "PORTICO_GATEWAY_AUTH_TARGET": "x:1",
        "PORTICO_GATEWAY_TLS_CERT_FILE": str(pair.cert),
        "PORTICO_GATEWAY_TLS_KEY_FILE": str(pair.key),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "portico_gateway", env=env, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        port = await _ready_port(ready_file, process)
        trusting = ssl.create_default_context(cafile=ours.ca_cert)
        async with httpx.AsyncClient(verify=trusting) as http:
            response = await http.get(f"https://127.0.0.1:{port}/healthz")
        assert response.status_code == 200
        async with httpx.AsyncClient() as http:
            with pytest.raises(httpx.HTTPError):
                await http.get(f"http://127.0.0.1:{port}/healthz")
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=10)


async def _ready_port(path: Path, process: asyncio.subprocess.Process) -> int:
    for _ in range(600):
        if process.returncode is not None:
            raise AssertionError(f"the gateway exited with {process.returncode} while starting")
        try:
            return int(json.loads(await asyncio.to_thread(path.read_text))["port"])
        except FileNotFoundError:
            await asyncio.sleep(0.05)
    raise AssertionError(f"no ready file at {path}")
