"""An install holds the CPU and memory its version declared to compat, in the same claim.

tenancy, compat and security run their real `run` in this process on real
PostgreSQL and NATS. security asks compat's GetDeclaredResources before it
reserves, and reserves one plugin plus the declared CPU and memory in one
Reserve; a version compat recorded no declaration for holds its plugin only.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import asyncpg
import grpc
import pytest
from pydantic import SecretStr

from portico.compat.v1 import compat_pb2 as cpb
from portico.compat.v1 import compat_pb2_grpc as cpb_grpc
from portico.security.v1 import install_pb2 as ipb
from portico.security.v1 import install_pb2_grpc as ipb_grpc
from portico.security.v1 import security_pb2 as spb
from portico.security.v1 import security_pb2_grpc as spb_grpc
from portico.tenancy.v1 import tenancy_pb2 as tpb
from portico.tenancy.v1 import tenancy_pb2_grpc as tpb_grpc
from portico_common.crypto.kms_local import LocalKms
from portico_compat.bootstrap import run as run_compat
from portico_compat.settings import CompatSettings
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.services import serving_in_process
from portico_security.bootstrap import run as run_security
from portico_security.settings import SecuritySettings
from portico_security.testing.artifacts import Publisher
from portico_tenancy.bootstrap import run as run_tenancy
from portico_tenancy.settings import TenancySettings

pytestmark = pytest.mark.integration

TOO_HUNGRY = "@acme/plugin-too-hungry"
MODEST = "@acme/plugin-modest"
SILENT = "@acme/plugin-silent"


def _common(url: str, nats_url: str) -> dict[str, object]:
    return {
        "database_url": SecretStr(url),
        "nats_url": nats_url,
        "grpc_port": 0,
        "metrics_port": -1,
        "auth_target": "",
    }


async def test_declared_cpu_and_memory_are_reserved_with_the_plugin(
    service_database_url: ServiceDatabaseUrl, database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """Over the CPU quota: RESOURCE_EXHAUSTED naming cpu_millicores, nothing stored; a
    declared version holds its CPU and memory; an undeclared one its plugin only."""
    key_file = tmp_path / "kms-key.json"
    LocalKms.create(key_file)
    tenancy_settings = TenancySettings.model_validate(
        _common(await service_database_url("tenancy"), nats_url)
        | {"tenancy_kms": "local", "tenancy_kms_key_file": str(key_file)}
    )
    compat_settings = CompatSettings.model_validate(
        _common(await service_database_url("compat"), nats_url)
    )
    async with AsyncExitStack() as stack:
        tenancy_port = await stack.enter_async_context(
            serving_in_process(run_tenancy, tenancy_settings)
        )
        compat_port = await stack.enter_async_context(
            serving_in_process(run_compat, compat_settings)
        )
        security_settings = SecuritySettings.model_validate(
            _common(await service_database_url("security"), nats_url)
            | {
                "tenancy_target": f"127.0.0.1:{tenancy_port}",
                "security_compat_target": f"127.0.0.1:{compat_port}",
            }
        )
        security_port = await stack.enter_async_context(
            serving_in_process(run_security, security_settings)
        )
        tenancy_channel = await stack.enter_async_context(
            grpc.aio.insecure_channel(f"127.0.0.1:{tenancy_port}")
        )
        compat_channel = await stack.enter_async_context(
            grpc.aio.insecure_channel(f"127.0.0.1:{compat_port}")
        )
        security_channel = await stack.enter_async_context(
            grpc.aio.insecure_channel(f"127.0.0.1:{security_port}")
        )
        tenancy = tpb_grpc.TenancyServiceStub(tenancy_channel)
        await tenancy.CreateTenant(tpb.CreateTenantRequest(tenant_id="acme"), timeout=10)
        await tenancy.SetQuota(
            tpb.SetQuotaRequest(
                tenant_id="acme",
                limits=tpb.Resources(cpu_millicores=1000, memory_mib=1024, storage_mib=1024),
                max_plugins=10,
            ),
            timeout=10,
        )
        compat = cpb_grpc.CompatServiceStub(compat_channel)
        await compat.SetHostProfile(
            cpb.SetHostProfileRequest(
                tenant_id="acme", backstage_version="1.31.0", node_version="20.11.1"
            ),
            timeout=10,
        )
        for plugin, cpu, memory in ((TOO_HUNGRY, 1500, 256), (MODEST, 400, 512)):
            await compat.CheckCompatibility(
                cpb.CheckCompatibilityRequest(
                    tenant_id="acme",
                    plugin=plugin,
                    version="1.0.0",
                    resources=cpb.ResourceRequest(cpu_millicores=cpu, memory_mib=memory),
                ),
                timeout=10,
            )
        publisher = Publisher(name="acme", key_id="acme-2026")
        await spb_grpc.SecurityServiceStub(security_channel).RegisterPublisherKey(
            spb.RegisterPublisherKeyRequest(
                tenant_id="acme",
                publisher=publisher.name,
                key_id=publisher.key_id,
                algorithm=spb.KEY_ALGORITHM_ED25519,
                public_key_pem=publisher.public_key_pem,
            ),
            timeout=10,
        )
        install = ipb_grpc.InstallServiceStub(security_channel)

        async def install_of(plugin: str) -> ipb.InstallSecureResponse:
            artifact = publisher.publish(plugin, "1.0.0")
            return await install.InstallSecure(  # type: ignore[no-any-return]
                ipb.InstallSecureRequest(
                    tenant_id="acme",
                    plugin=artifact.plugin,
                    version=artifact.version,
                    tarball=artifact.tarball,
                    integrity=artifact.integrity,
                    signature=artifact.signature,
                    key_id=artifact.key_id,
                    requested_by="bob",
                ),
                timeout=60,
            )

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await install_of(TOO_HUNGRY)
        assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "cpu_millicores: 1500 wanted, 0 of 1000 held" in (refused.value.details() or "")
        modest = await install_of(MODEST)
        silent = await install_of(SILENT)
        quota = await tenancy.GetQuota(tpb.GetQuotaRequest(tenant_id="acme"), timeout=10)

    held = quota.reserved
    assert (held.plugins, held.used.cpu_millicores, held.used.memory_mib) == (2, 400, 512)
    admin = await asyncpg.connect(database_url)
    try:
        recorded = await admin.fetch(
            "SELECT plugin, request_id::text FROM security.install_requests ORDER BY plugin"
        )
        reservations = await admin.fetch(
            "SELECT plugin, reservation_id, cpu_millicores, memory_mib"
            " FROM tenancy.tenant_reservations ORDER BY plugin"
        )
    finally:
        await admin.close()
    assert [(r["plugin"], r["request_id"]) for r in recorded] == [
        (MODEST, modest.request.request_id),
        (SILENT, silent.request.request_id),
    ]
    assert [tuple(r) for r in reservations] == [
        (MODEST, modest.request.request_id, 400, 512),
        (SILENT, silent.request.request_id, 0, 0),
    ]
