"""InstallService over gRPC against the service process, on real PostgreSQL and JetStream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from portico.events.v1 import events_pb2 as ev
from portico.security.v1 import install_pb2 as ipb
from portico.security.v1 import install_pb2_grpc as ipb_grpc
from portico.security.v1 import security_pb2 as pb
from portico.security.v1 import security_pb2_grpc as pb_grpc
from portico_common.events.catalog import STREAM
from portico_common.events.envelope import Envelope
from portico_security.testing.artifacts import Publisher, SignedArtifact

pytestmark = pytest.mark.integration

PLUGIN = "@acme/plugin-cost-insights"
Eventually = Callable[..., Awaitable[Any]]


@pytest.fixture
async def install(security_service: str) -> AsyncIterator[ipb_grpc.InstallServiceAsyncStub]:
    async with grpc.aio.insecure_channel(security_service) as channel:
        yield ipb_grpc.InstallServiceStub(channel)  # type: ignore[misc]


async def register(stub: pb_grpc.SecurityServiceAsyncStub, publisher: Publisher) -> None:
    await stub.RegisterPublisherKey(
        pb.RegisterPublisherKeyRequest(
            tenant_id="acme",
            publisher=publisher.name,
            key_id=publisher.key_id,
            algorithm=pb.KEY_ALGORITHM_ED25519,
            public_key_pem=publisher.public_key_pem,
        ),
        timeout=10,
    )


def install_request(artifact: SignedArtifact) -> ipb.InstallSecureRequest:
    return ipb.InstallSecureRequest(
        tenant_id="acme",
        plugin=artifact.plugin,
        version=artifact.version,
        tarball=artifact.tarball,
        integrity=artifact.integrity,
        signature=artifact.signature,
        key_id=artifact.key_id,
        requested_by="bob",
    )


def gated(required: int, timeout_seconds: int = 3600) -> ipb.SetInstallPolicyRequest:
    return ipb.SetInstallPolicyRequest(
        tenant_id="acme",
        actor="admin",
        reason="every install is reviewed",
        policy=ipb.InstallPolicy(
            min_trust_score=0,
            approval_below_score=100,
            blocked_severities=["CRITICAL"],
            max_artifact_bytes=1 << 20,
            approval=ipb.ApprovalRule(
                required=required,
                roles=["security-reviewer", "team-lead"],
                timeout_seconds=timeout_seconds,
                on_deadline=ipb.DEADLINE_ACTION_EXPIRE,
            ),
        ),
    )


async def last_event(js: JetStreamContext, event_type: str, eventually: Eventually) -> Envelope:
    async def probe() -> Any:
        try:
            return await js.get_last_msg(STREAM, f"portico.{event_type}")
        except NotFoundError:
            return None

    msg = await eventually(probe, what=f"a {event_type} event")
    return Envelope.decode(msg.headers, msg.data)


async def test_two_of_m_approval_over_grpc(
    stub: pb_grpc.SecurityServiceAsyncStub,
    install: ipb_grpc.InstallServiceAsyncStub,
    js: JetStreamContext,
    eventually: Eventually,
) -> None:
    """A gated install waits for two distinct approvers, counts a repeat once, then is approved."""
    publisher = Publisher(name="acme", key_id="acme-2026")
    await register(stub, publisher)
    await install.SetInstallPolicy(gated(required=2), timeout=10)
    response = await install.InstallSecure(
        install_request(publisher.publish(PLUGIN, "1.0.0")), timeout=30
    )
    request = response.request
    assert request.status == ipb.INSTALL_STATUS_PENDING_APPROVAL
    assert {f.name for f in request.trust.factors} >= {"publisher", "security_history"}
    (publisher_factor,) = [f for f in request.trust.factors if f.name == "publisher"]
    # The verifying key's age comes from the key registry: registered just now, 0 days old.
    assert any(e.startswith("key_age_days=0 ") for e in publisher_factor.evidence), (
        publisher_factor.evidence
    )
    assert all(c.passed for c in response.checks)
    decide = {"tenant_id": "acme", "request_id": request.request_id}
    first = await install.Approve(
        ipb.ApproveRequest(**decide, approver="alice", role="security-reviewer"), timeout=10
    )
    repeat = await install.Approve(
        ipb.ApproveRequest(**decide, approver="alice", role="security-reviewer"), timeout=10
    )
    assert (first.counted, repeat.counted) == (True, False)
    assert repeat.request.status == ipb.INSTALL_STATUS_PENDING_APPROVAL
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await install.Approve(ipb.ApproveRequest(**decide, approver="eve", role="dev"), timeout=10)
    assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    done = await install.Approve(
        ipb.ApproveRequest(**decide, approver="carol", role="team-lead", comment="ok"), timeout=10
    )
    assert done.request.status == ipb.INSTALL_STATUS_APPROVED
    assert list(done.request.approval.approvers) == ["alice", "carol"]
    envelope = await last_event(js, "plugin.install.approved", eventually)
    assert isinstance(envelope.payload, ev.InstallApproved)
    assert envelope.payload.request_id == request.request_id
    fetched = await install.GetInstallRequest(ipb.GetInstallRequestRequest(**decide), timeout=10)
    assert [h.kind for h in fetched.request.history] == [
        "requested",
        "approval_required",
        "recorded",
        "approved",
    ]
    audit = await install.ListAuditRecords(
        ipb.ListAuditRecordsRequest(tenant_id="acme"), timeout=10
    )
    assert [r.action for r in audit.records] == [
        "policy.set",
        "install.requested",
        "install.approval_required",
        "approval.approve",
        "approval.approve",
        "install.approved",
    ]
    assert list(audit.chain_problems) == []
    assert audit.records[1].evidence_digest == request.evidence_digest


async def test_unapproved_install_expires_on_its_deadline(
    stub: pb_grpc.SecurityServiceAsyncStub,
    install: ipb_grpc.InstallServiceAsyncStub,
    js: JetStreamContext,
    eventually: Eventually,
) -> None:
    """The service's deadline loop expires a pending approval and announces it."""
    publisher = Publisher(name="acme", key_id="acme-2026")
    await register(stub, publisher)
    await install.SetInstallPolicy(gated(required=1, timeout_seconds=1), timeout=10)
    response = await install.InstallSecure(
        install_request(publisher.publish(PLUGIN, "1.0.0")), timeout=30
    )
    envelope = await last_event(js, "plugin.install.expired", eventually)
    assert isinstance(envelope.payload, ev.InstallExpired)
    assert envelope.payload.request_id == response.request.request_id
    fetched = await install.GetInstallRequest(
        ipb.GetInstallRequestRequest(tenant_id="acme", request_id=response.request.request_id),
        timeout=10,
    )
    assert fetched.request.status == ipb.INSTALL_STATUS_EXPIRED


async def test_policy_rejection_over_grpc(
    stub: pb_grpc.SecurityServiceAsyncStub,
    install: ipb_grpc.InstallServiceAsyncStub,
) -> None:
    """A publisher outside the allowed list is rejected with the reason; approving it is refused."""
    publisher = Publisher(name="acme", key_id="acme-2026")
    await register(stub, publisher)
    policy = gated(required=1)
    policy.policy.allowed_publishers.append("globex")
    await install.SetInstallPolicy(policy, timeout=10)
    response = await install.InstallSecure(
        install_request(publisher.publish(PLUGIN, "1.0.0")), timeout=30
    )
    assert response.request.status == ipb.INSTALL_STATUS_REJECTED
    assert any("publisher acme is not allowed" in r for r in response.request.reasons)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await install.Approve(
            ipb.ApproveRequest(
                tenant_id="acme",
                request_id=response.request.request_id,
                approver="alice",
                role="security-reviewer",
            ),
            timeout=10,
        )
    assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION


async def test_uninstall_over_grpc_announces_and_audits_once(
    stub: pb_grpc.SecurityServiceAsyncStub,
    install: ipb_grpc.InstallServiceAsyncStub,
    js: JetStreamContext,
    eventually: Eventually,
) -> None:
    """Uninstall ends the approved request on PostgreSQL, announces it, and is a no-op again."""
    publisher = Publisher(name="acme", key_id="acme-2026")
    await register(stub, publisher)
    await install.SetInstallPolicy(gated(required=1), timeout=10)
    response = await install.InstallSecure(
        install_request(publisher.publish(PLUGIN, "1.0.0")), timeout=30
    )
    decide = {"tenant_id": "acme", "request_id": response.request.request_id}
    with pytest.raises(grpc.aio.AioRpcError) as pending:
        await install.Uninstall(ipb.UninstallRequest(tenant_id="acme", plugin=PLUGIN), timeout=10)
    assert pending.value.code() is grpc.StatusCode.INVALID_ARGUMENT  # requested_by is required
    with pytest.raises(grpc.aio.AioRpcError) as not_installed:
        await install.Uninstall(
            ipb.UninstallRequest(tenant_id="acme", plugin=PLUGIN, requested_by="bob"), timeout=10
        )
    assert not_installed.value.code() is grpc.StatusCode.NOT_FOUND
    await install.Approve(
        ipb.ApproveRequest(**decide, approver="alice", role="security-reviewer"), timeout=10
    )
    gone = await install.Uninstall(
        ipb.UninstallRequest(tenant_id="acme", plugin=PLUGIN, requested_by="bob", reason="unused"),
        timeout=10,
    )
    assert [(r.request_id, r.status) for r in gone.requests] == [
        (response.request.request_id, ipb.INSTALL_STATUS_UNINSTALLED)
    ]
    envelope = await last_event(js, "plugin.install.uninstalled", eventually)
    assert isinstance(envelope.payload, ev.InstallUninstalled)
    assert (envelope.payload.request_id, envelope.payload.reason) == (
        response.request.request_id,
        "unused",
    )
    again = await install.Uninstall(
        ipb.UninstallRequest(tenant_id="acme", plugin=PLUGIN, requested_by="bob"), timeout=10
    )
    assert [r.request_id for r in again.requests] == [response.request.request_id]
    info = await js.stream_info(STREAM, subjects_filter="portico.plugin.install.uninstalled")
    assert info.state.subjects == {"portico.plugin.install.uninstalled": 1}
    audit = await install.ListAuditRecords(
        ipb.ListAuditRecordsRequest(tenant_id="acme"), timeout=10
    )
    assert [r.action for r in audit.records].count("install.uninstalled") == 1
