"""Data keys over gRPC on real PostgreSQL, with the local KMS and with Vault Transit (OpenBao)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import grpc
import pytest
from pydantic import SecretStr

from portico.tenancy.v1 import keys_pb2 as pb
from portico.tenancy.v1 import keys_pb2_grpc as pb_grpc
from portico_common.crypto.kms_local import LocalKms
from portico_embedded.openbao import OpenBaoServer
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.services import serving_in_process
from portico_tenancy.bootstrap import SERVICE, run
from portico_tenancy.settings import TenancySettings

pytestmark = pytest.mark.integration


@pytest.fixture(params=["local", "vault-transit"])
def kms_settings(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    """Settings of one KMS: a fresh 0600 key file, or a dev OpenBao with transit."""
    if request.param == "local":
        path = tmp_path / "kms-key.json"
        LocalKms.create(path)
        return {"tenancy_kms": "local", "tenancy_kms_key_file": str(path)}
    bao: OpenBaoServer = request.getfixturevalue("openbao_server")
    return {
        "tenancy_kms": "vault-transit",
        "tenancy_kms_vault_url": bao.url,
        "tenancy_kms_vault_token": SecretStr(bao.root_token),
    }


@pytest.fixture
async def keys_stub(
    service_database_url: ServiceDatabaseUrl, nats_url: str, kms_settings: dict[str, object]
) -> AsyncIterator[pb_grpc.TenantKeysServiceAsyncStub]:
    settings = TenancySettings.model_validate(
        {
            "database_url": SecretStr(await service_database_url(SERVICE)),
            "nats_url": nats_url,
            "grpc_port": 0,
            "metrics_port": -1,
            **kms_settings,
        }
    )
    async with serving_in_process(run, settings) as port:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        try:
            yield pb_grpc.TenantKeysServiceStub(channel)
        finally:
            await channel.close(grace=None)


async def test_keys_are_stored_wrapped_rotated_rewrapped_and_shredded(
    keys_stub: pb_grpc.TenantKeysServiceAsyncStub,
    database_url: str,
    kms_settings: dict[str, object],
) -> None:
    """The database never holds a data key; KEK rotation keeps them; shredding deletes them."""
    first = await keys_stub.GetDataKeys(pb.GetDataKeysRequest(tenant_id="acme"))
    await keys_stub.RotateDataKey(pb.RotateDataKeyRequest(tenant_id="acme"))
    await keys_stub.GetDataKeys(pb.GetDataKeysRequest(tenant_id="globex"))
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT tenant_id, wrapped, kms FROM tenancy.tenant_data_keys")
        assert len(rows) == 3
        assert {r["kms"] for r in rows} == {kms_settings["tenancy_kms"]}
        assert all(first.keys[0].material not in bytes(r["wrapped"]) for r in rows)

        kek = await keys_stub.RotateKeyEncryptionKey(pb.RotateKeyEncryptionKeyRequest())
        assert (kek.kek_version, kek.rewrapped) == (2, 3)
        after = await keys_stub.GetDataKeys(pb.GetDataKeysRequest(tenant_id="acme"))
        assert after.primary_version == 2
        assert {k.version: k.material for k in after.keys}[1] == first.keys[0].material

        shred = await keys_stub.ShredDataKeys(pb.ShredDataKeysRequest(tenant_id="acme"))
        assert shred.destroyed == 2
        left = await conn.fetch("SELECT tenant_id FROM tenancy.tenant_data_keys")
        assert [r["tenant_id"] for r in left] == ["globex"]
        gone = await keys_stub.GetDataKeys(pb.GetDataKeysRequest(tenant_id="acme"))
        assert (gone.shredded, len(gone.keys)) == (True, 0)
        described = await keys_stub.DescribeDataKeys(pb.DescribeDataKeysRequest(tenant_id="acme"))
        assert described.shredded
    finally:
        await conn.close()
