"""The kernel's gRPC over TLS on real servers: TLS, mutual TLS, and auth's keys only from auth.

A service under `serve()` with a certificate serves TLS only; with a client
CA it also requires a client certificate from that CA. Its JWKS fetch and
its token requests check auth's certificate: an impostor at auth's address,
with a certificate from another CA, gets no secret and hands out no keys, so
the tokens it signs are refused.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from joserfc import jwt
from joserfc.jwk import OKPKey
from pydantic import SecretStr

from portico.auth.v1 import auth_pb2, auth_pb2_grpc
from portico.tenancy.v1 import tenancy_pb2, tenancy_pb2_grpc
from portico_common.errors import UnavailableError
from portico_common.grpc.jwks import jwks_fetcher
from portico_common.grpc.service_tokens import grpc_token_issuer
from portico_common.grpc.tokens import ALGORITHM, AUDIENCE, ISSUER
from portico_common.settings import ServiceSettings
from portico_common.tls import GrpcClientTls, grpc_channel, grpc_server_credentials
from portico_embedded.local_ca import LocalCa, ensure

if TYPE_CHECKING:
    from conftest import Service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalCa, LocalCa]:
    """Our CA (a service, auth and a client identity) and another CA nobody here trusts."""
    root = tmp_path_factory.mktemp("pki")
    ours = ensure(root / "ours", ["service", "auth", "client"]).ca
    other = ensure(root / "other", ["service", "auth", "client"]).ca
    return ours, other


def server_tls(ca: LocalCa, name: str, *, client_ca: LocalCa | None = None) -> dict[str, str]:
    pair = ca.leaf(name)
    settings = {"grpc_tls_cert_file": str(pair.cert), "grpc_tls_key_file": str(pair.key)}
    if client_ca is not None:
        settings["grpc_tls_client_ca_file"] = str(client_ca.ca_cert)
    return settings


def client_tls(trusts: LocalCa, identity: LocalCa | None = None) -> GrpcClientTls:
    """Trusting `trusts`; showing the `client` certificate of `identity` when given."""
    if identity is None:
        return GrpcClientTls.from_files(str(trusts.ca_cert))
    pair = identity.leaf("client")
    return GrpcClientTls.from_files(str(trusts.ca_cert), str(pair.cert), str(pair.key))


async def _health(target: str, tls: GrpcClientTls | None) -> int:
    async with grpc_channel(target, tls) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=5
        )
    return int(reply.status)


async def _refused(target: str, tls: GrpcClientTls | None) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _health(target, tls)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.fixture
async def tls_service(
    database_url: str,
    nats_url: str,
    kernel_service: Callable[..., Any],
    pki: tuple[LocalCa, LocalCa],
) -> AsyncIterator[Service]:
    ours, _ = pki
    async with kernel_service(database_url, nats_url, overrides=server_tls(ours, "service")) as s:
        yield s


@pytest.fixture
async def mutual_service(
    database_url: str,
    nats_url: str,
    kernel_service: Callable[..., Any],
    pki: tuple[LocalCa, LocalCa],
) -> AsyncIterator[Service]:
    ours, _ = pki
    overrides = server_tls(ours, "service", client_ca=ours)
    async with kernel_service(database_url, nats_url, overrides=overrides) as s:
        yield s


async def test_a_tls_service_serves_clients_that_trust_its_ca_and_no_one_else(
    tls_service: Service, pki: tuple[LocalCa, LocalCa]
) -> None:
    """TLS only: a plaintext client and a client trusting another CA are both refused."""
    ours, other = pki
    assert await _health(tls_service.target, client_tls(ours)) == 1  # SERVING
    await _refused(tls_service.target, None)
    await _refused(tls_service.target, client_tls(other))


async def test_a_mutual_tls_service_refuses_clients_without_a_certificate_of_its_ca(
    mutual_service: Service, pki: tuple[LocalCa, LocalCa]
) -> None:
    """With a client CA the server wants a certificate: none, or another CA's, is refused."""
    ours, other = pki
    assert await _health(mutual_service.target, client_tls(ours, ours)) == 1
    await _refused(mutual_service.target, client_tls(ours))
    await _refused(mutual_service.target, client_tls(ours, other))
    await _refused(mutual_service.target, None)
    # The RPCs themselves are behind the same handshake.
    async with grpc_channel(mutual_service.target, client_tls(ours)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await tenancy_pb2_grpc.TenancyServiceStub(channel).CreateTenant(
                tenancy_pb2.CreateTenantRequest(tenant_id="acme"), timeout=5
            )
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert mutual_service.servicer.calls == 0


# ---- auth's keys only from auth ---------------------------------------------

IMPOSTOR_KEY = OKPKey.generate_key("Ed25519", parameters={"kid": "impostor"})


class ImpostorAuth(auth_pb2_grpc.AuthServiceServicer):
    """Answers at auth's address with its own keys and collects the secrets it is sent."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.jwks_calls = 0

    async def GetJwks(  # noqa: N802 - generated servicer name
        self, _request: auth_pb2.GetJwksRequest, _context: Any
    ) -> auth_pb2.GetJwksResponse:
        self.jwks_calls += 1
        return json_format.ParseDict(
            {"keys": [IMPOSTOR_KEY.as_dict(private=False)]}, auth_pb2.GetJwksResponse()
        )

    async def IssueServiceToken(  # noqa: N802 - generated servicer name
        self, request: auth_pb2.IssueServiceTokenRequest, _context: Any
    ) -> auth_pb2.IssueServiceTokenResponse:
        self.secrets.append(request.client_secret)
        return auth_pb2.IssueServiceTokenResponse(access_token=_forged(), expires_in=300)


def _forged(tenant: str = "*") -> str:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "svc:impostor",
        "tenant": tenant,
        "roles": ["platform-admin"],
        "exp": int(time.time()) + 300,
    }
    return jwt.encode({"alg": ALGORITHM, "kid": "impostor"}, claims, IMPOSTOR_KEY, [ALGORITHM])


@asynccontextmanager
async def impostor_auth(ca: LocalCa) -> AsyncIterator[tuple[str, ImpostorAuth]]:
    """An "auth" serving TLS with a certificate from `ca`, on a port of its own."""
    servicer = ImpostorAuth()
    server = grpc.aio.server()
    auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server)
    pair = ca.leaf("auth")
    credentials = grpc_server_credentials(
        ServiceSettings(grpc_tls_cert_file=str(pair.cert), grpc_tls_key_file=str(pair.key))
    )
    assert credentials is not None
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    try:
        yield f"127.0.0.1:{port}", servicer
    finally:
        await server.stop(None)


async def test_jwks_and_tokens_come_only_from_a_server_with_a_certificate_of_our_ca(
    pki: tuple[LocalCa, LocalCa],
) -> None:
    """Against an impostor (another CA's certificate) the fetch fails and no secret leaves."""
    ours, other = pki
    async with impostor_auth(other) as (target, impostor):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await jwks_fetcher(target, client_tls(ours))()
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        issue = grpc_token_issuer(target, tls=client_tls(ours))
        with pytest.raises(UnavailableError):
            await issue("svc-tenancy", "the-real-secret")
        assert impostor.jwks_calls == 0
        assert impostor.secrets == []
    # The same server with a certificate of our CA is believed: the refusal was the certificate.
    async with impostor_auth(ours) as (target, believed):
        jwks = await jwks_fetcher(target, client_tls(ours))()
        assert [key["kid"] for key in jwks["keys"]] == ["impostor"]
        assert believed.jwks_calls == 1


async def test_a_service_whose_auth_is_an_impostor_refuses_the_impostors_tokens(
    database_url: str,
    nats_url: str,
    kernel_service: Callable[..., Any],
    pki: tuple[LocalCa, LocalCa],
) -> None:
    """The service cannot fetch keys from the impostor, so the impostor's tokens are refused."""
    ours, other = pki
    async with impostor_auth(other) as (auth_target, impostor):
        overrides = {
            **server_tls(ours, "service"),
            "grpc_tls_ca_file": str(ours.ca_cert),
            "auth_target": auth_target,
            "auth_client_id": "svc-kerneltest",
            "auth_client_secret": SecretStr("the-real-secret"),
        }
        async with kernel_service(
            database_url, nats_url, unsafe=False, overrides=overrides
        ) as service:
            async with grpc_channel(service.target, client_tls(ours)) as channel:
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await tenancy_pb2_grpc.TenancyServiceStub(channel).CreateTenant(
                        tenancy_pb2.CreateTenantRequest(tenant_id="acme"),
                        metadata=(("authorization", f"Bearer {_forged('acme')}"),),
                        timeout=10,
                    )
            # Refused: without keys from auth itself, no token can be believed.
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "signing keys (JWKS)" in (caught.value.details() or "")
            assert service.servicer.calls == 0
        assert impostor.jwks_calls == 0
        assert impostor.secrets == []


def test_pki_files_are_private(pki: tuple[LocalCa, LocalCa]) -> None:
    """Keys 0600 in a 0700 directory (what `portico up` leaves in .portico/tls)."""
    ours, _ = pki
    assert Path(ours.directory).stat().st_mode & 0o777 == 0o700
    assert ours.leaf("service").key.stat().st_mode & 0o777 == 0o600
