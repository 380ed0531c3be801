"""Crypto-shredding of auth's client metadata and security's reviewer notes and comments.

tenancy, auth and security run as processes on real PostgreSQL (and JetStream)
with the local KMS. auth seals a client's metadata, security an install
request's approver comments and reviewers' private notes, and the audit
reasons quoting the comments, each with the tenant's data key from tenancy;
after ShredDataKeys the ciphertext is still in their tables but no longer opens
(FAILED_PRECONDITION), while another tenant's data reads as before. security's
events say whether an approver commented, never what: no comment reaches the
outbox or JetStream, where shredding could not reach it.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from pathlib import Path

import asyncpg
import grpc
import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import FetchTimeoutError

from portico.auth.v1 import auth_pb2 as apb
from portico.auth.v1 import auth_pb2_grpc as apb_grpc
from portico.events.v1 import events_pb2 as ev
from portico.security.v1 import install_pb2 as ipb
from portico.security.v1 import install_pb2_grpc as ipb_grpc
from portico.security.v1 import security_pb2 as spb
from portico.security.v1 import security_pb2_grpc as spb_grpc
from portico.tenancy.v1 import keys_pb2 as kpb
from portico.tenancy.v1 import keys_pb2_grpc as kpb_grpc
from portico.tenancy.v1 import tenancy_pb2 as tpb
from portico.tenancy.v1 import tenancy_pb2_grpc as tpb_grpc
from portico_common.crypto.envelope import is_sealed
from portico_common.crypto.kms_local import LocalKms
from portico_common.events.catalog import STREAM, subject_for
from portico_common.events.envelope import Envelope
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique, unique_tenant
from portico_embedded.testing.services import ServiceProcess, infra_env, running_process
from portico_security.testing.artifacts import Publisher

pytestmark = pytest.mark.integration

ADMIN_SECRET = "admin-secret-0123456789"
OWNER = "alice.private@acme.example"
COMMENT = "approved: the publisher's key was checked by phone"
NOTE = "the maintainer told me privately the CVE fix is incomplete"
SECOND = "second look: the tarball matches the tag byte for byte"
REJECTION = "the vendor's contract with us ended in March"


async def _tenancy(
    service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> dict[str, str]:
    key_file = tmp_path / "kms-key.json"
    LocalKms.create(key_file)
    return infra_env(
        await service_database_url("tenancy"),
        nats_url,
        grpc_port="0",
        tenancy_kms="local",
        tenancy_kms_key_file=str(key_file),
    )


async def _shred(tenancy: ServiceProcess, tenant: str) -> None:
    async with grpc.aio.insecure_channel(tenancy.target) as channel:
        reply = await kpb_grpc.TenantKeysServiceStub(channel).ShredDataKeys(
            kpb.ShredDataKeysRequest(tenant_id=tenant), timeout=10
        )
    assert reply.destroyed == 1


async def test_shredding_a_tenant_key_makes_its_client_metadata_unreadable(
    service_database_url: ServiceDatabaseUrl, database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """auth's sealed metadata stays in PostgreSQL after the shred and never opens again."""
    shredded, kept = unique_tenant(), unique_tenant()
    tenancy_env = await _tenancy(service_database_url, nats_url, tmp_path)
    async with running_process("portico_tenancy", tenancy_env, tmp_path / "tenancy") as tenancy:
        auth_env = infra_env(
            await service_database_url("auth"),
            nats_url,
            grpc_port="0",
            auth_admin_client_secret=ADMIN_SECRET,
            auth_key_encryption_key=secrets.token_hex(32),
            tenancy_target=tenancy.target,
            data_key_cache_seconds="0",
        )
        async with (
            running_process("portico_auth", auth_env, tmp_path / "auth") as auth,
            grpc.aio.insecure_channel(auth.target) as channel,
        ):
            stub = apb_grpc.AuthServiceStub(channel)
            token = await stub.IssueServiceToken(
                apb.IssueServiceTokenRequest(
                    client_id="portico-admin", client_secret=ADMIN_SECRET, tenant_id="*"
                ),
                timeout=30,
            )
            admin = [("authorization", f"Bearer {token.access_token}")]
            for tenant in (shredded, kept):
                registered = await stub.RegisterClient(
                    apb.RegisterClientRequest(
                        client_id=f"bot-{tenant}",
                        client_secret="bot-secret-0123456789",
                        tenants=[tenant],
                        roles=["viewer"],
                        metadata={"owner": OWNER, "purpose": "nightly sync"},
                    ),
                    metadata=admin,
                    timeout=30,
                )
                assert registered.metadata["owner"] == OWNER
            got = await stub.GetClient(
                apb.GetClientRequest(client_id=f"bot-{shredded}"), metadata=admin, timeout=30
            )
            assert dict(got.client.metadata) == {"owner": OWNER, "purpose": "nightly sync"}

            conn = await asyncpg.connect(database_url)
            try:
                sealed = bytes(
                    await conn.fetchval(
                        "SELECT metadata_sealed FROM auth.clients WHERE client_id = $1",
                        f"bot-{shredded}",
                    )
                )
                assert is_sealed(sealed)
                assert OWNER.encode() not in sealed
                await _shred(tenancy, shredded)
                after = await conn.fetchval(
                    "SELECT metadata_sealed FROM auth.clients WHERE client_id = $1",
                    f"bot-{shredded}",
                )
                assert bytes(after) == sealed
            finally:
                await conn.close()

            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.GetClient(
                    apb.GetClientRequest(client_id=f"bot-{shredded}"), metadata=admin, timeout=30
                )
            assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "destroyed" in (refused.value.details() or "")
            still = await stub.GetClient(
                apb.GetClientRequest(client_id=f"bot-{kept}"), metadata=admin, timeout=30
            )
            assert still.client.metadata["owner"] == OWNER


def _review_everything(tenant: str) -> ipb.SetInstallPolicyRequest:
    return ipb.SetInstallPolicyRequest(
        tenant_id=tenant,
        actor="admin",
        reason="two reviewers for every install",
        policy=ipb.InstallPolicy(
            min_trust_score=0,
            approval_below_score=100,
            max_artifact_bytes=1 << 20,
            approval=ipb.ApprovalRule(
                required=2,
                roles=["security-reviewer"],
                timeout_seconds=3600,
                on_deadline=ipb.DEADLINE_ACTION_EXPIRE,
            ),
        ),
    )


async def _tenant_reviewing_everything(
    tenancy: tpb_grpc.TenancyServiceAsyncStub,
    keys: spb_grpc.SecurityServiceAsyncStub,
    install: ipb_grpc.InstallServiceAsyncStub,
    tenant: str,
) -> Publisher:
    """A tenant with a quota, a registered publisher and two reviewers for every install."""
    await tenancy.CreateTenant(tpb.CreateTenantRequest(tenant_id=tenant), timeout=10)
    await tenancy.SetQuota(
        tpb.SetQuotaRequest(
            tenant_id=tenant,
            limits=tpb.Resources(cpu_millicores=1000, memory_mib=1024, storage_mib=1024),
            max_plugins=10,
        ),
        timeout=10,
    )
    publisher = Publisher(name="acme", key_id="acme-2026")
    await keys.RegisterPublisherKey(
        spb.RegisterPublisherKeyRequest(
            tenant_id=tenant,
            publisher=publisher.name,
            key_id=publisher.key_id,
            algorithm=spb.KEY_ALGORITHM_ED25519,
            public_key_pem=publisher.public_key_pem,
        ),
        timeout=10,
    )
    await install.SetInstallPolicy(_review_everything(tenant), timeout=10)
    return publisher


async def _requested(
    install: ipb_grpc.InstallServiceAsyncStub, tenant: str, publisher: Publisher, version: str
) -> str:
    """The id of a pending install request of @acme/plugin-notes at `version`."""
    artifact = publisher.publish("@acme/plugin-notes", version)
    requested = await install.InstallSecure(
        ipb.InstallSecureRequest(
            tenant_id=tenant,
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
    assert requested.request.status == ipb.INSTALL_STATUS_PENDING_APPROVAL
    return requested.request.request_id


async def _pending_install_with_a_note(
    tenancy: tpb_grpc.TenancyServiceAsyncStub,
    keys: spb_grpc.SecurityServiceAsyncStub,
    install: ipb_grpc.InstallServiceAsyncStub,
    tenant: str,
) -> str:
    """A tenant with a quota, a pending install, and one approval with a comment and a note."""
    publisher = await _tenant_reviewing_everything(tenancy, keys, install, tenant)
    request_id = await _requested(install, tenant, publisher, "1.0.0")
    approved = await install.Approve(
        ipb.ApproveRequest(
            tenant_id=tenant,
            request_id=request_id,
            approver="alice",
            role="security-reviewer",
            comment=COMMENT,
            private_note=NOTE,
        ),
        timeout=30,
    )
    assert [n.text for n in approved.request.private_notes] == [NOTE]
    assert approved.request.approval.votes[0].comment == COMMENT
    return request_id


async def test_shredding_a_tenant_key_makes_its_reviewer_notes_and_comments_unreadable(
    service_database_url: ServiceDatabaseUrl, database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """security's sealed request body (comments, notes) stays after the shred, never to open."""
    shredded, kept = unique_tenant(), unique_tenant()
    tenancy_env = await _tenancy(service_database_url, nats_url, tmp_path)
    async with running_process("portico_tenancy", tenancy_env, tmp_path / "tenancy") as tenancy:
        security_env = infra_env(
            await service_database_url("security"),
            nats_url,
            grpc_port="0",
            tenancy_target=tenancy.target,
            data_key_cache_seconds="0",
        )
        async with (
            running_process("portico_security", security_env, tmp_path / "security") as security,
            grpc.aio.insecure_channel(tenancy.target) as tenancy_channel,
            grpc.aio.insecure_channel(security.target) as security_channel,
        ):
            tenancy_stub = tpb_grpc.TenancyServiceStub(tenancy_channel)
            keys = spb_grpc.SecurityServiceStub(security_channel)
            install = ipb_grpc.InstallServiceStub(security_channel)
            requests = {
                tenant: await _pending_install_with_a_note(tenancy_stub, keys, install, tenant)
                for tenant in (shredded, kept)
            }

            conn = await asyncpg.connect(database_url)
            try:
                row = await conn.fetchrow(
                    "SELECT body::text AS body, body_sealed FROM security.install_requests"
                    " WHERE request_id = $1",
                    uuid.UUID(requests[shredded]),
                )
                assert row is not None
                assert row["body"] == "{}"
                sealed = bytes(row["body_sealed"])
                assert is_sealed(sealed)
                assert NOTE.encode() not in sealed
                assert COMMENT.encode() not in sealed
                audit = await conn.fetch(
                    "SELECT reason, reason_sealed FROM security.audit_records WHERE tenant_id = $1",
                    shredded,
                )
                assert audit
                assert all(r["reason"] == "" for r in audit)
                assert all(is_sealed(bytes(r["reason_sealed"])) for r in audit)
                assert not any(COMMENT.encode() in bytes(r["reason_sealed"]) for r in audit)
                await _shred(tenancy, shredded)
                after = await conn.fetchval(
                    "SELECT body_sealed FROM security.install_requests WHERE request_id = $1",
                    uuid.UUID(requests[shredded]),
                )
                assert bytes(after) == sealed
            finally:
                await conn.close()

            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await install.GetInstallRequest(
                    ipb.GetInstallRequestRequest(tenant_id=shredded, request_id=requests[shredded]),
                    timeout=30,
                )
            assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "destroyed" in (refused.value.details() or "")
            with pytest.raises(grpc.aio.AioRpcError) as unreadable:
                await install.ListAuditRecords(
                    ipb.ListAuditRecordsRequest(tenant_id=shredded), timeout=30
                )
            assert unreadable.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            kept_audit = await install.ListAuditRecords(
                ipb.ListAuditRecordsRequest(tenant_id=kept), timeout=30
            )
            assert any(COMMENT in r.reason for r in kept_audit.records)
            assert not kept_audit.chain_problems
            still = await install.GetInstallRequest(
                ipb.GetInstallRequestRequest(tenant_id=kept, request_id=requests[kept]),
                timeout=30,
            )
            assert [n.text for n in still.request.private_notes] == [NOTE]


async def _install_events(
    nats_url: str, tenant: str, expected: int
) -> list[tuple[Envelope, bytes]]:
    """The tenant's install events and the bytes JetStream holds of each (headers and
    body), once `expected` of them are there."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        durable = unique("watch")
        watch = await js.pull_subscribe(
            subject_for("plugin.install.>"),
            durable=durable,
            stream=STREAM,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        found: list[tuple[Envelope, bytes]] = []
        deadline = asyncio.get_running_loop().time() + 20
        while len(found) < expected and asyncio.get_running_loop().time() < deadline:
            try:
                batch = await watch.fetch(100, timeout=1)
            except FetchTimeoutError:
                continue
            for msg in batch:
                await msg.ack()
                envelope = Envelope.decode(msg.headers, msg.data)
                if envelope.tenant_id == tenant:
                    raw = repr(sorted((msg.headers or {}).items())).encode() + msg.data
                    found.append((envelope, raw))
        await js.delete_consumer(STREAM, durable)
        return found
    finally:
        await nc.close()


async def test_approver_comments_never_reach_the_events_and_shred_with_the_tenant(
    service_database_url: ServiceDatabaseUrl, database_url: str, nats_url: str, tmp_path: Path
) -> None:
    """Approve (twice) and reject with comments: the published approval_recorded, approved
    and rejected events hold no comment; GetInstallRequest shows them opened until the
    tenant's key is shredded."""
    tenant = unique_tenant()
    tenancy_env = await _tenancy(service_database_url, nats_url, tmp_path)
    async with running_process("portico_tenancy", tenancy_env, tmp_path / "tenancy") as tenancy:
        security_env = infra_env(
            await service_database_url("security"),
            nats_url,
            grpc_port="0",
            tenancy_target=tenancy.target,
            data_key_cache_seconds="0",
        )
        async with (
            running_process("portico_security", security_env, tmp_path / "security") as security,
            grpc.aio.insecure_channel(tenancy.target) as tenancy_channel,
            grpc.aio.insecure_channel(security.target) as security_channel,
        ):
            install = ipb_grpc.InstallServiceStub(security_channel)
            publisher = await _tenant_reviewing_everything(
                tpb_grpc.TenancyServiceStub(tenancy_channel),
                spb_grpc.SecurityServiceStub(security_channel),
                install,
                tenant,
            )
            approved_id = await _requested(install, tenant, publisher, "1.0.0")
            rejected_id = await _requested(install, tenant, publisher, "1.0.1")
            for approver, comment in (("alice", COMMENT), ("carol", SECOND)):
                voted = await install.Approve(
                    ipb.ApproveRequest(
                        tenant_id=tenant,
                        request_id=approved_id,
                        approver=approver,
                        role="security-reviewer",
                        comment=comment,
                        private_note=NOTE,
                    ),
                    timeout=30,
                )
            assert voted.request.status == ipb.INSTALL_STATUS_APPROVED
            rejected = await install.Reject(
                ipb.RejectRequest(
                    tenant_id=tenant,
                    request_id=rejected_id,
                    approver="dave",
                    role="security-reviewer",
                    comment=REJECTION,
                ),
                timeout=30,
            )
            assert rejected.request.status == ipb.INSTALL_STATUS_REJECTED
            assert f"rejected by dave: {REJECTION}" in rejected.request.reasons

            # requested x2, approval_required x2, approval_recorded x3, approved, rejected
            events = await _install_events(nats_url, tenant, expected=9)
            types = sorted(e.type for e, _ in events)
            assert types.count("plugin.install.approval_recorded") == 3, types
            assert {"plugin.install.approved", "plugin.install.rejected"} <= set(types)
            for _, raw in events:
                for secret in (COMMENT, SECOND, REJECTION, NOTE):
                    assert secret.encode() not in raw
            recorded = [e.payload for e, _ in events if e.type.endswith("approval_recorded")]
            assert all(
                isinstance(r, ev.InstallApprovalRecorded) and r.has_comment for r in recorded
            )
            (refusal,) = [e.payload for e, _ in events if e.type == "plugin.install.rejected"]
            assert isinstance(refusal, ev.InstallRejected)
            assert refusal.rejected_by == "dave"
            assert "rejected by dave" in refusal.reasons

            conn = await asyncpg.connect(database_url)
            try:
                outbox = await conn.fetch(
                    "SELECT payload FROM security.outbox WHERE tenant_id = $1", tenant
                )
            finally:
                await conn.close()
            for row in outbox:
                for secret in (COMMENT, SECOND, REJECTION):
                    assert secret.encode() not in bytes(row["payload"])

            opened = await install.GetInstallRequest(
                ipb.GetInstallRequestRequest(tenant_id=tenant, request_id=approved_id),
                timeout=30,
            )
            assert [v.comment for v in opened.request.approval.votes] == [COMMENT, SECOND]

            await _shred(tenancy, tenant)
            for request_id in (approved_id, rejected_id):
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await install.GetInstallRequest(
                        ipb.GetInstallRequestRequest(tenant_id=tenant, request_id=request_id),
                        timeout=30,
                    )
                assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
