"""Auth and tenancy as separate processes: tenancy's kernel interceptor enforces auth's tokens."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import grpc
import pytest

from portico.auth.v1 import auth_pb2, auth_pb2_grpc
from portico.tenancy.v1 import tenancy_pb2, tenancy_pb2_grpc
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.services import infra_env, running_process

pytestmark = pytest.mark.integration

ADMIN_SECRET = "admin-secret-for-processes-0123"
KEK = "kek-for-processes-0123456789-0123456789"
Service = Callable[..., AbstractAsyncContextManager[str]]


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}


@pytest.fixture
def service(service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path) -> Service:
    """`async with service("portico_auth", **env) as target:` runs `python -m` that module.

    The process binds port 0 and reports its port in a ready file; leaving the
    block stops it with SIGTERM, after which it must have exited cleanly.
    """

    @asynccontextmanager
    async def start(module: str, **env: str) -> AsyncIterator[str]:
        url = await service_database_url(module.removeprefix("portico_"))
        async with running_process(module, infra_env(url, nats_url) | env, tmp_path) as process:
            yield process.target

    return start


async def _token(auth_target: str, tenant: str) -> str:
    async with grpc.aio.insecure_channel(auth_target) as channel:
        issued = await auth_pb2_grpc.AuthServiceStub(channel).IssueServiceToken(
            auth_pb2.IssueServiceTokenRequest(
                client_id="portico-admin", client_secret=ADMIN_SECRET, tenant_id=tenant
            ),
            timeout=10,
        )
    return issued.access_token


def _bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def test_auth_refuses_to_start_without_its_secrets(tmp_path: Path) -> None:
    """`python -m portico_auth` without the KEK exits non-zero and names the variable."""
    env = {**_clean_env(), "PORTICO_AUTH_ADMIN_CLIENT_SECRET": ADMIN_SECRET}
    done = subprocess.run(
        [sys.executable, "-m", "portico_auth"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert b"PORTICO_AUTH_KEY_ENCRYPTION_KEY must be set" in done.stderr


async def test_tenancy_enforces_auth_tokens(service: Service) -> None:
    """Tenancy refuses no token and garbage, denies another tenant's token, serves its own."""
    acme, globex = f"acme-{uuid.uuid4().hex[:8]}", f"globex-{uuid.uuid4().hex[:8]}"
    async with (
        service(
            "portico_auth",
            PORTICO_AUTH_ADMIN_CLIENT_SECRET=ADMIN_SECRET,
            PORTICO_AUTH_KEY_ENCRYPTION_KEY=KEK,
        ) as auth,
        service("portico_tenancy", PORTICO_AUTH_TARGET=auth) as tenancy,
    ):
        acme_token = await _token(auth, acme)
        async with grpc.aio.insecure_channel(tenancy) as channel:
            tenants = tenancy_pb2_grpc.TenancyServiceStub(channel)
            await tenants.CreateTenant(
                tenancy_pb2.CreateTenantRequest(tenant_id=acme, display_name="Acme"),
                metadata=_bearer(acme_token),
                timeout=10,
            )
            refused: list[tuple[tuple[tuple[str, str], ...], str, grpc.StatusCode]] = [
                ((), acme, grpc.StatusCode.UNAUTHENTICATED),
                (_bearer("garbage.token.here"), acme, grpc.StatusCode.UNAUTHENTICATED),
                ((("authorization", acme_token),), acme, grpc.StatusCode.UNAUTHENTICATED),
                (_bearer(acme_token), globex, grpc.StatusCode.PERMISSION_DENIED),
            ]
            for metadata, tenant, code in refused:
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await tenants.GetTenant(
                        tenancy_pb2.GetTenantRequest(tenant_id=tenant),
                        metadata=metadata,
                        timeout=10,
                    )
                assert caught.value.code() is code, (metadata, tenant, caught.value.details())
            got = await tenants.GetTenant(
                tenancy_pb2.GetTenantRequest(tenant_id=acme),
                metadata=_bearer(acme_token),
                timeout=10,
            )
            assert got.tenant.tenant_id == acme
