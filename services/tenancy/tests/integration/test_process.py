"""`python -m portico_tenancy` as its own process: configured by env, stopped by SIGTERM."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from portico.tenancy.v1 import tenancy_pb2 as pb
from portico.tenancy.v1 import tenancy_pb2_grpc as pb_grpc
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique_tenant
from portico_embedded.testing.services import infra_env, running_process

pytestmark = pytest.mark.integration


async def test_process_serves_tenants_then_stops_cleanly(
    service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> None:
    """The process serves CreateTenant and GetTenant, and exits 0 on SIGTERM.

    Token checks are off (no PORTICO_AUTH_TARGET); the port is the one the
    process bound itself and reported in its ready file.
    """
    tenant = unique_tenant()
    async with (
        running_process(
            "portico_tenancy",
            infra_env(await service_database_url("tenancy"), nats_url),
            tmp_path,
            health_service="portico.tenancy.v1.TenancyService",
        ) as process,
        grpc.aio.insecure_channel(process.target) as channel,
    ):
        stub = pb_grpc.TenancyServiceStub(channel)
        created = await stub.CreateTenant(
            pb.CreateTenantRequest(tenant_id=tenant, display_name="Acme"), timeout=10
        )
        got = await stub.GetTenant(pb.GetTenantRequest(tenant_id=tenant), timeout=10)
    assert got.tenant == created.tenant
    assert (got.tenant.tenant_id, got.tenant.display_name) == (tenant, "Acme")
