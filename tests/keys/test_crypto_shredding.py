"""Crypto-shredding end to end: tenancy and slo as processes on real PostgreSQL.

slo seals a channel's secrets with the tenant's data key, fetched from
tenancy as a real process with the local KMS; after ShredDataKeys the
ciphertext is still in slo's table but nothing can open it, while another
tenant's channel keeps working.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import asyncpg
import grpc
import pytest

from portico.slo.v1 import alerting_pb2 as apb
from portico.slo.v1 import alerting_pb2_grpc as apb_grpc
from portico.tenancy.v1 import keys_pb2 as kpb
from portico.tenancy.v1 import keys_pb2_grpc as kpb_grpc
from portico_common.crypto.envelope import is_sealed, key_version
from portico_common.crypto.kms_local import LocalKms
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique_tenant
from portico_embedded.testing.services import infra_env, running_process

pytestmark = pytest.mark.integration

HOOK = "https://hooks.example/very-secret-path"


def _webhook() -> apb.WebhookConfig:
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    return apb.WebhookConfig(url=HOOK, signing_secret=secret)


async def test_shredding_a_tenant_key_makes_its_ciphertext_unreadable(
    service_database_url: ServiceDatabaseUrl, database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """After ShredDataKeys the tenant's sealed channel secrets stay in PostgreSQL, never to open."""
    key_file = tmp_path / "kms-key.json"
    LocalKms.create(key_file)
    tenancy_env = infra_env(
        await service_database_url("tenancy"),
        nats_url,
        grpc_port="0",
        tenancy_kms="local",
        tenancy_kms_key_file=str(key_file),
    )
    shredded, kept = unique_tenant(), unique_tenant()
    async with running_process("portico_tenancy", tenancy_env, tmp_path / "tenancy") as tenancy:
        slo_env = infra_env(
            await service_database_url("slo"),
            nats_url,
            grpc_port="0",
            tenancy_target=tenancy.target,
            data_key_cache_seconds="0",
        )
        async with (
            running_process("portico_slo", slo_env, tmp_path / "slo") as slo,
            grpc.aio.insecure_channel(slo.target) as slo_channel,
            grpc.aio.insecure_channel(tenancy.target) as tenancy_channel,
        ):
            alerting = apb_grpc.AlertingServiceStub(slo_channel)
            channels = {}
            for tenant in (shredded, kept):
                created = await alerting.CreateChannel(
                    apb.CreateChannelRequest(tenant_id=tenant, name="hook", webhook=_webhook())
                )
                channels[tenant] = created.channel.channel_id

            admin = await asyncpg.connect(database_url)
            try:
                sealed = await admin.fetchval(
                    "SELECT sealed_secrets FROM slo.alert_channels WHERE tenant_id = $1", shredded
                )
                assert is_sealed(sealed)
                assert key_version(sealed) == 1
                assert HOOK.encode() not in sealed

                keys = kpb_grpc.TenantKeysServiceStub(tenancy_channel)
                reply = await keys.ShredDataKeys(kpb.ShredDataKeysRequest(tenant_id=shredded))
                assert reply.destroyed == 1

                # The ciphertext is still there; the only key that opened it is not.
                after = await admin.fetchval(
                    "SELECT sealed_secrets FROM slo.alert_channels WHERE tenant_id = $1", shredded
                )
                assert after == sealed
                assert not await admin.fetchval(
                    "SELECT count(*) FROM tenancy.tenant_data_keys WHERE tenant_id = $1", shredded
                )
            finally:
                await admin.close()

            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await alerting.UpdateChannel(
                    apb.UpdateChannelRequest(
                        tenant_id=shredded, channel_id=channels[shredded], send_resolved=False
                    )
                )
            assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "destroyed" in (refused.value.details() or "")
            with pytest.raises(grpc.aio.AioRpcError) as again:
                await alerting.CreateChannel(
                    apb.CreateChannelRequest(tenant_id=shredded, name="new", webhook=_webhook())
                )
            assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION

            updated = await alerting.UpdateChannel(
                apb.UpdateChannelRequest(
                    tenant_id=kept, channel_id=channels[kept], send_resolved=False
                )
            )
            assert not updated.channel.send_resolved
