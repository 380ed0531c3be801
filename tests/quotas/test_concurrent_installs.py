"""Quota reservations end to end: security and tenancy as processes on real PostgreSQL.

security reserves one plugin at tenancy before it verifies anything; tenancy
takes each reservation in one transaction under the tenant's lock. Fifty
installs fired at once at a quota of ten: exactly ten are taken on, the other
forty are RESOURCE_EXHAUSTED with tenancy's reason, and no install request
is recorded for them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import grpc
import pytest

from portico.security.v1 import install_pb2 as ipb
from portico.security.v1 import install_pb2_grpc as ipb_grpc
from portico.security.v1 import security_pb2 as spb
from portico.security.v1 import security_pb2_grpc as spb_grpc
from portico.tenancy.v1 import tenancy_pb2 as tpb
from portico.tenancy.v1 import tenancy_pb2_grpc as tpb_grpc
from portico_common.crypto.kms_local import LocalKms
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.services import infra_env, running_process
from portico_security.testing.artifacts import Publisher

pytestmark = pytest.mark.integration

QUOTA = 10
INSTALLS = 50


def _review_everything() -> ipb.SetInstallPolicyRequest:
    """Every install waits for an approver, so each keeps its reservation during the test."""
    return ipb.SetInstallPolicyRequest(
        tenant_id="acme",
        actor="admin",
        reason="every install is reviewed",
        policy=ipb.InstallPolicy(
            min_trust_score=0,
            approval_below_score=100,
            max_artifact_bytes=1 << 20,
            approval=ipb.ApprovalRule(
                required=1,
                roles=["security-reviewer"],
                timeout_seconds=3600,
                on_deadline=ipb.DEADLINE_ACTION_EXPIRE,
            ),
        ),
    )


async def test_fifty_concurrent_installs_at_a_quota_of_ten_take_on_exactly_ten(
    service_database_url: ServiceDatabaseUrl, database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """50 InstallSecure calls at once, max_plugins 10: 10 recorded, 40 RESOURCE_EXHAUSTED."""
    key_file = tmp_path / "kms-key.json"
    LocalKms.create(key_file)
    # security seals its sensitive fields with data keys from the same tenancy.
    tenancy_env = infra_env(
        await service_database_url("tenancy"),
        nats_url,
        grpc_port="0",
        tenancy_kms="local",
        tenancy_kms_key_file=str(key_file),
    )
    async with running_process("portico_tenancy", tenancy_env, tmp_path / "tenancy") as tenancy:
        security_env = infra_env(
            await service_database_url("security"),
            nats_url,
            grpc_port="0",
            tenancy_target=tenancy.target,
            # The per-tenant cap on concurrent InstallSecure calls (noisy neighbours)
            # would refuse most of the fifty first; here the quota alone decides.
            heavy_rpc_tenant_concurrency=str(INSTALLS),
        )
        async with (
            running_process("portico_security", security_env, tmp_path / "security") as security,
            grpc.aio.insecure_channel(tenancy.target) as tenancy_channel,
            grpc.aio.insecure_channel(security.target) as security_channel,
        ):
            tenancy_stub = tpb_grpc.TenancyServiceStub(tenancy_channel)
            await tenancy_stub.CreateTenant(tpb.CreateTenantRequest(tenant_id="acme"), timeout=10)
            await tenancy_stub.SetQuota(
                tpb.SetQuotaRequest(
                    tenant_id="acme",
                    limits=tpb.Resources(cpu_millicores=1000, memory_mib=1024, storage_mib=1024),
                    max_plugins=QUOTA,
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
            await install.SetInstallPolicy(_review_everything(), timeout=10)
            artifacts = [publisher.publish(f"@acme/plugin-{i}", "1.0.0") for i in range(INSTALLS)]

            async def one(i: int) -> tuple[grpc.StatusCode, str]:
                artifact = artifacts[i]
                try:
                    await install.InstallSecure(
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
                        timeout=120,
                    )
                except grpc.aio.AioRpcError as exc:
                    return exc.code(), exc.details() or ""
                return grpc.StatusCode.OK, ""

            answers = await asyncio.gather(*(one(i) for i in range(INSTALLS)))
            quota = await tenancy_stub.GetQuota(tpb.GetQuotaRequest(tenant_id="acme"), timeout=10)

    codes = [code for code, _ in answers]
    assert codes.count(grpc.StatusCode.OK) == QUOTA, answers[:3]
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == INSTALLS - QUOTA
    refused = {detail for code, detail in answers if code is not grpc.StatusCode.OK}
    assert all("plugins: 1 wanted, 10 of 10 held" in detail for detail in refused)
    assert quota.reserved.plugins == QUOTA
    admin = await asyncpg.connect(database_url)
    try:
        recorded = await admin.fetchval("SELECT count(*) FROM security.install_requests")
        held = await admin.fetchval(
            "SELECT count(*) FROM tenancy.tenant_reservations WHERE state = 'held'"
        )
    finally:
        await admin.close()
    assert (recorded, held) == (QUOTA, QUOTA)
