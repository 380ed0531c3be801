"""InstallService's mapping between protobuf and the domain, and its errors as gRPC codes, with
the servicer as `build` wires it over in-memory adapters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portico.security.v1 import install_pb2 as ipb
from portico_common.clock import ManualClock
from portico_common.grpc.tokens import Claims, current_claims
from portico_security.bootstrap import build
from portico_security.install.domain.policy import (
    DeadlineAction,
    InstallPolicy,
    Outcome,
    PolicyDecision,
    Severity,
)
from portico_security.install.domain.requests import InstallRequest, ReviewNote, TrustBreakdown
from portico_security.install.entrypoints.grpc_api import InstallServicer, _actor
from portico_security.install.entrypoints.mapping import policy_from_proto, policy_to_proto
from portico_security.install.errors import (
    InstallRequestNotFoundError,
    InvalidInstallRequestError,
    InvalidPolicyError,
)
from portico_security.testing.world import MemoryWorld

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def servicer() -> InstallServicer:
    parts = build(MemoryWorld(ManualClock(T0)).dependencies())
    found = parts.implementation("InstallService")
    assert isinstance(found, InstallServicer)
    return found


def wire_policy(**kw: object) -> ipb.InstallPolicy:
    fields: dict[str, object] = {
        "approval_below_score": 70,
        "blocked_severities": ["high", "CRITICAL"],
        "max_artifact_bytes": 1000,
        "approval": ipb.ApprovalRule(
            required=2,
            roles=["sec"],
            timeout_seconds=60,
            on_deadline=ipb.DEADLINE_ACTION_ESCALATE,
            escalation_roles=["admin"],
        ),
    }
    fields.update(kw)
    return ipb.InstallPolicy(**fields)  # type: ignore[arg-type]


def test_policy_maps_both_ways() -> None:
    """A wire policy becomes the domain policy (severities case-insensitive) and maps back."""
    policy = policy_from_proto("acme", wire_policy())
    assert policy.blocked_severities == (Severity.HIGH, Severity.CRITICAL)
    assert policy.approval.on_deadline is DeadlineAction.ESCALATE
    assert policy_from_proto("acme", policy_to_proto(policy)) == policy


def test_unknown_severity_is_an_invalid_request() -> None:
    """A severity label the policy does not know is refused, naming the field."""
    with pytest.raises(InvalidInstallRequestError, match="blocked_severities"):
        policy_from_proto("acme", wire_policy(blocked_severities=["SEVERE"]))


def test_unset_deadline_action_means_expire() -> None:
    """Leaving on_deadline unset expires, the safe default, rather than escalating."""
    rule = ipb.ApprovalRule(required=1, roles=["sec"], timeout_seconds=60)
    assert policy_from_proto("acme", wire_policy(approval=rule)).approval.on_deadline is (
        DeadlineAction.EXPIRE
    )


def test_zero_approvers_is_refused_with_invalid_argument() -> None:
    """An empty approval rule is a policy error mapped to INVALID_ARGUMENT."""
    with pytest.raises(InvalidPolicyError) as raised:
        policy_from_proto("acme", wire_policy(approval=ipb.ApprovalRule()))
    assert raised.value.code == "INVALID_ARGUMENT"


async def test_default_policy_until_one_is_set(servicer: InstallServicer) -> None:
    """GetInstallPolicy answers the default policy for a tenant that never set one."""
    reply = await servicer.GetInstallPolicy(
        ipb.GetInstallPolicyRequest(tenant_id="acme"),
        None,  # type: ignore[arg-type]
    )
    assert policy_from_proto("acme", reply.policy) == InstallPolicy("acme")


async def test_set_policy_requires_an_actor(servicer: InstallServicer) -> None:
    """A policy change without a named actor cannot be audited, so it is refused."""
    with pytest.raises(InvalidInstallRequestError, match="actor"):
        await servicer.SetInstallPolicy(
            ipb.SetInstallPolicyRequest(tenant_id="acme", policy=wire_policy()),
            None,  # type: ignore[arg-type]
        )


async def test_unknown_request_is_not_found(servicer: InstallServicer) -> None:
    """GetInstallRequest for an id the tenant does not have is NOT_FOUND."""
    with pytest.raises(InstallRequestNotFoundError) as raised:
        await servicer.GetInstallRequest(
            ipb.GetInstallRequestRequest(tenant_id="acme", request_id="nope"),
            None,  # type: ignore[arg-type]
        )
    assert raised.value.code == "NOT_FOUND"


@pytest.mark.parametrize(
    ("named", "subject", "expected"),
    [
        ("alice", None, "alice"),
        ("alice", "alice", "alice"),
        ("alice", "svc-portal", "alice (via svc-portal)"),
        ("", "svc-portal", "svc-portal"),
        ("", None, ""),
    ],
)
def test_actor_is_bound_to_the_token(named: str, subject: str | None, expected: str) -> None:
    """The recorded actor names the authenticated caller whenever a token was presented."""
    claims = None if subject is None else Claims(subject, "acme", (), 0, "t1")
    token = current_claims.set(claims)
    try:
        assert _actor(named) == expected
    finally:
        current_claims.reset(token)


@pytest.mark.parametrize("rpc", [ipb.ApproveRequest, ipb.RejectRequest])
def test_with_a_token_the_approver_is_the_subject_and_roles_come_from_it(rpc: type) -> None:
    """A verified token overrides the stated approver and supplies the roles to check."""
    claims = Claims("approver-1", "acme", (), 0, "t1", roles=("security-approver",))
    token = current_claims.set(claims)
    try:
        decide = InstallServicer._decide(
            rpc(tenant_id="acme", request_id="r1", approver="mallory", role="security-approver")
        )
    finally:
        current_claims.reset(token)
    assert (decide.approver, decide.role, decide.verified_roles) == (
        "approver-1",
        "security-approver",
        ("security-approver",),
    )


def test_without_a_token_the_stated_approver_and_role_are_trusted() -> None:
    """No token verification: the stated name and role pass through, with no role check."""
    decide = InstallServicer._decide(
        ipb.ApproveRequest(tenant_id="acme", request_id="r1", approver="alice", role="lead")
    )
    assert (decide.approver, decide.role, decide.verified_roles) == ("alice", "lead", None)


NOTE = "vendor's CVE fix looked incomplete; asked them privately"


def _noted_request() -> InstallRequest:
    request = InstallRequest.decided(
        request_id="00000000-0000-0000-0000-0000000000aa", tenant_id="acme", plugin="@acme/p",
        version="1.0.0", verification_id="v1", publisher="acme", trust=TrustBreakdown(60, ()),
        advisories=(), decision=PolicyDecision(Outcome.APPROVAL_REQUIRED, ("low trust",)),
        approval=None, requested_by="bob", now=T0,
    )  # fmt: skip
    return request.noted(ReviewNote(T0, "alice", "security-approver", NOTE))


@pytest.mark.parametrize(
    ("roles", "shown"),
    [
        (None, True),
        (("security-approver",), True),
        (("platform-admin",), True),
        (("viewer",), False),
        (("developer", "tenant-admin"), False),
    ],
)
async def test_private_notes_are_shown_only_to_callers_who_may_approve(
    roles: tuple[str, ...] | None, shown: bool
) -> None:
    """GetInstallRequest carries the notes for installs.approve holders (or no verification)."""
    world = MemoryWorld(ManualClock(T0))
    found = build(world.dependencies()).implementation("InstallService")
    assert isinstance(found, InstallServicer)
    request = _noted_request()
    async with world.install.uow_factory()("acme") as tx:
        await tx.install_requests.add(request)
    claims = None if roles is None else Claims("someone", "acme", (), 0, "t1", roles=roles)
    token = current_claims.set(claims)
    try:
        reply = await found.GetInstallRequest(
            ipb.GetInstallRequestRequest(tenant_id="acme", request_id=request.request_id),
            None,  # type: ignore[arg-type]
        )
    finally:
        current_claims.reset(token)
    notes = [(n.author, n.role, n.text) for n in reply.request.private_notes]
    assert notes == ([("alice", "security-approver", NOTE)] if shown else [])
    assert reply.request.plugin == "@acme/p"


@pytest.mark.parametrize("rpc", [ipb.ApproveRequest, ipb.RejectRequest])
def test_the_private_note_reaches_the_use_case(rpc: type) -> None:
    """Approve and Reject pass the private note on, with or without a verified token."""
    decide = InstallServicer._decide(
        rpc(tenant_id="acme", request_id="r1", approver="alice", role="lead", private_note=NOTE)
    )
    assert decide.private_note == NOTE
    token = current_claims.set(Claims("approver-1", "acme", (), 0, "t1", roles=("lead",)))
    try:
        verified = InstallServicer._decide(
            rpc(tenant_id="acme", request_id="r1", role="lead", private_note=NOTE)
        )
    finally:
        current_claims.reset(token)
    assert verified.private_note == NOTE
