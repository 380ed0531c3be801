"""A service calling another with its own token: auth and tenancy as real processes."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from pydantic import SecretStr

from portico.tenancy.v1 import quotas_pb2, quotas_pb2_grpc, tenancy_pb2, tenancy_pb2_grpc
from portico_common.errors import UnauthenticatedError
from portico_common.grpc.service_tokens import (
    ServiceIdentity,
    ServiceTokens,
    grpc_token_issuer,
    service_channel,
)
from portico_embedded.testing.fixtures import ServiceDatabaseUrl
from portico_embedded.testing.services import infra_env, running_process

pytestmark = pytest.mark.integration

ADMIN_SECRET = "admin-secret-0123456789abcdef"
ROLLOUT_SECRET = "rollout-secret-0123456789abcdef"


async def test_calls_on_a_service_channel_carry_the_callers_own_token(
    service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> None:
    """The channel fetches a token from auth and tenancy admits the call as that client."""
    auth_env = infra_env(
        await service_database_url("auth"),
        nats_url,
        auth_admin_client_secret=ADMIN_SECRET,
        auth_key_encryption_key="kek-0123456789-0123456789-0123456789",
        auth_service_client_secrets=json.dumps({"rollout": ROLLOUT_SECRET}),
    )
    async with running_process("portico_auth", auth_env, tmp_path / "auth") as auth:
        tenancy_db = await service_database_url("tenancy")
        tenancy_env = infra_env(tenancy_db, nats_url, auth_target=auth.target)
        async with running_process("portico_tenancy", tenancy_env, tmp_path / "tenancy") as tenancy:
            tokens = ServiceTokens(
                ServiceIdentity("portico-admin", SecretStr(ADMIN_SECRET)),
                grpc_token_issuer(auth.target),
            )
            async with service_channel(tenancy.target, tokens) as channel:
                stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
                created = await stub.CreateTenant(
                    tenancy_pb2.CreateTenantRequest(tenant_id="acme", display_name="Acme"),
                    timeout=10,
                )
            assert created.tenant.tenant_id == "acme"
            async with grpc.aio.insecure_channel(tenancy.target) as bare:
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await tenancy_pb2_grpc.TenancyServiceStub(bare).GetTenant(
                        tenancy_pb2.GetTenantRequest(tenant_id="acme"), timeout=10
                    )
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

            wrong = ServiceTokens(
                ServiceIdentity("portico-admin", SecretStr("not-the-secret-0123456789")),
                grpc_token_issuer(auth.target),
            )
            with pytest.raises(UnauthenticatedError, match="refused this service's credentials"):
                await wrong.token()

            # rollout's own identity: the `service` role, nothing more.
            rollout = ServiceTokens(
                ServiceIdentity("svc-rollout", SecretStr(ROLLOUT_SECRET)),
                grpc_token_issuer(auth.target),
            )
            async with service_channel(tenancy.target, rollout) as channel:
                stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
                held = await quotas_pb2_grpc.QuotaReservationServiceStub(channel).Reserve(
                    quotas_pb2.ReserveRequest(
                        tenant_id="acme",
                        reservation_id="install-1",
                        kind=quotas_pb2.RESERVATION_KIND_INSTALL,
                        plugin="left-pad",
                        amounts=quotas_pb2.ReservedAmounts(plugins=1),
                    ),
                    timeout=10,
                )
                with pytest.raises(grpc.aio.AioRpcError) as denied:
                    await stub.CreateTenant(
                        tenancy_pb2.CreateTenantRequest(tenant_id="globex", display_name="G"),
                        timeout=10,
                    )
            assert held.reservation.tenant_id == "acme"
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "'tenants.create'" in (denied.value.details() or "")
