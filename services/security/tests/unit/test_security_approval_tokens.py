"""N-of-M approvals with verified tokens, through the kernel interceptor in front of `build`.

The interceptor admits Approve and Reject only with installs.approve; then
security decides on the token alone: the approver is its subject, the role
decided as must be one of its roles and eligible for the policy's step, and
whoever requested the install (by name or as the calling client) cannot
approve it. Security itself reads no token: only `current_claims`.
"""

from __future__ import annotations

import ast
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from joserfc import jwt
from joserfc.jwk import OKPKey

import portico_security
from portico.security.v1 import install_pb2 as ipb
from portico.security.v1 import install_pb2_grpc as ipb_grpc
from portico.security.v1 import security_pb2 as pb
from portico.security.v1 import security_pb2_grpc as pb_grpc
from portico_common.clock import ManualClock
from portico_common.grpc.interceptor import PorticoServerInterceptor
from portico_common.grpc.registration import register_servicers
from portico_common.grpc.tokens import ALGORITHM, AUDIENCE, ISSUER, Claims, TokenVerifier
from portico_security.bootstrap import SERVICE, build
from portico_security.testing.artifacts import Publisher
from portico_security.testing.world import MemoryWorld

KEY = OKPKey.generate_key("Ed25519", parameters={"kid": "security-test"})
PLUGIN = "@acme/plugin-cost-insights"
APPROVER = "security-approver"


async def _jwks() -> dict[str, Any]:
    return {"keys": [KEY.as_dict(private=False)]}


def _as(subject: str, *roles: str, tenant: str = "acme") -> tuple[tuple[str, str]]:
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "tenant": tenant,
        "roles": list(roles),
        "exp": int(time.time()) + 300,
    }
    header = {"alg": ALGORITHM, "kid": "security-test"}
    return (("authorization", f"Bearer {jwt.encode(header, claims, KEY, [ALGORITHM])}"),)


@dataclass
class Denials:
    recorded: list[tuple[str, str, str, str]] = field(default_factory=list)

    async def record(self, tenant_id: str, claims: Claims, method: str, permission: str) -> None:
        self.recorded.append((tenant_id, claims.subject, method.rsplit("/", 1)[-1], permission))


@dataclass
class Gated:
    install: ipb_grpc.InstallServiceAsyncStub
    denials: Denials
    request_id: str

    def approve(self, who: tuple[tuple[str, str]], role: str = APPROVER) -> Any:
        request = ipb.ApproveRequest(
            tenant_id="acme", request_id=self.request_id, approver="mallory", role=role
        )
        return self.install.Approve(request, metadata=who, timeout=10)


@pytest.fixture
async def gated() -> AsyncIterator[Gated]:
    """An install of acme waiting for two security-approvers, requested by client dev-bob."""
    world = MemoryWorld(ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC)))
    denials = Denials()
    server = grpc.aio.server(
        interceptors=[
            PorticoServerInterceptor(
                SERVICE, verifier=TokenVerifier(_jwks), idempotency=None, denials=denials
            )
        ]
    )
    register_servicers(server, build(world.dependencies()).servicers)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    admin = _as("acme-admin", "tenant-admin")
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            keys = pb_grpc.SecurityServiceStub(channel)
            install = ipb_grpc.InstallServiceStub(channel)
            publisher = Publisher(name="acme", key_id="acme-2026")
            await keys.RegisterPublisherKey(
                pb.RegisterPublisherKeyRequest(
                    tenant_id="acme",
                    publisher=publisher.name,
                    key_id=publisher.key_id,
                    algorithm=pb.KEY_ALGORITHM_ED25519,
                    public_key_pem=publisher.public_key_pem,
                ),
                metadata=admin,
            )
            await install.SetInstallPolicy(
                ipb.SetInstallPolicyRequest(
                    tenant_id="acme",
                    reason="two reviewers",
                    policy=ipb.InstallPolicy(
                        approval_below_score=100,
                        max_artifact_bytes=1 << 20,
                        approval=ipb.ApprovalRule(
                            required=2, roles=[APPROVER], timeout_seconds=3600
                        ),
                    ),
                ),
                metadata=admin,
            )
            artifact = publisher.publish(PLUGIN, "1.0.0")
            requested = await install.InstallSecure(
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
                metadata=_as("dev-bob", "developer", APPROVER),
            )
            assert requested.request.status == ipb.INSTALL_STATUS_PENDING_APPROVAL
            yield Gated(install, denials, requested.request.request_id)  # type: ignore[arg-type]
    finally:
        await server.stop(None)


async def _refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def test_a_token_without_installs_approve_is_refused_before_security_runs(
    gated: Gated,
) -> None:
    """A viewer is PERMISSION_DENIED naming installs.approve, and the denial is recorded."""
    refused = await _refused(gated.approve(_as("viewer-1", "viewer")))
    assert refused.code() is grpc.StatusCode.PERMISSION_DENIED
    assert (refused.details() or "").startswith("missing permission 'installs.approve'")
    assert gated.denials.recorded == [("acme", "viewer-1", "Approve", "installs.approve")]


async def test_the_permission_alone_does_not_make_an_approver(gated: Gated) -> None:
    """A platform admin holds installs.approve but not the role the step needs: refused."""
    refused = await _refused(gated.approve(_as("root", "platform-admin", tenant="*")))
    assert refused.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "'root' may not decide as 'security-approver'" in (refused.details() or "")
    wrong_role = await _refused(gated.approve(_as("root", "platform-admin"), "platform-admin"))
    assert wrong_role.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "role 'platform-admin' may not decide" in (wrong_role.details() or "")


async def test_two_verified_approvers_approve_and_the_requester_cannot(gated: Gated) -> None:
    """The requesting client is refused (four eyes); two approvers' subjects approve it."""
    own = await _refused(gated.approve(_as("dev-bob", "developer", APPROVER)))
    assert own.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "dev-bob requested this install" in (own.details() or "")
    first = await gated.approve(_as("approver-a", APPROVER))
    assert list(first.request.approval.approvers) == ["approver-a"]  # not "mallory"
    assert first.request.status == ipb.INSTALL_STATUS_PENDING_APPROVAL
    second = await gated.approve(_as("approver-b", APPROVER))
    assert second.request.status == ipb.INSTALL_STATUS_APPROVED
    assert list(second.request.approval.approvers) == ["approver-a", "approver-b"]


def test_security_reads_no_token_itself() -> None:
    """No module of security imports a JOSE library or reads the authorization metadata."""
    root = Path(portico_security.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text()
        tree = ast.parse(source, str(path))
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            node.module.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        }
        if imported & {"joserfc", "jwt", "authlib"} or "invocation_metadata" in source:
            offenders.append(str(path.relative_to(root)))
    assert offenders == []
