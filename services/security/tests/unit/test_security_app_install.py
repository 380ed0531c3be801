"""Secure install and approvals through the use cases, on in-memory adapters and a ManualClock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from portico.events.v1 import events_pb2 as ev
from portico_common.clock import ManualClock
from portico_common.errors import InvalidArgumentError
from portico_security.install.adapters.memory import InstallMemoryStore
from portico_security.install.adapters.verification import VerificationService
from portico_security.install.app import approvals, audit, install
from portico_security.install.app.ports import InstallUowFactory
from portico_security.install.app.uninstall import uninstall
from portico_security.install.domain.audit import chain_problems
from portico_security.install.domain.policy import (
    AdvisoryFinding,
    ApprovalRule,
    DeadlineAction,
    InstallPolicy,
    Severity,
)
from portico_security.install.domain.requests import InstallStatus
from portico_security.install.domain.resources import DeclaredResources
from portico_security.install.errors import (
    ApprovalNotAllowedError,
    DeclaredResourcesUnavailableError,
    InstallQuotaExceededError,
    InstallRequestNotFoundError,
    InvalidInstallRequestError,
    PluginNotInstalledError,
    RoleNotHeldError,
)
from portico_security.testing.artifacts import Publisher, SignedArtifact
from portico_security.testing.install import (
    FixedAdvisories,
    NoAdvisoryMatcher,
    VerificationTrustScorer,
)
from portico_security.testing.world import MemoryWorld
from portico_security.verification.adapters.memory import VerificationMemoryStore
from portico_security.verification.app.commands import RegisterPublisherKey, VerifyArtifact
from portico_security.verification.app.keys import register_publisher_key
from portico_security.verification.app.ports import VerificationUowFactory

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PLUGIN = "@acme/plugin-cost-insights"


@pytest.fixture
def istore(world: MemoryWorld) -> InstallMemoryStore:
    """Committed install state: policies, requests, the audit chain, install events."""
    return world.install


@pytest.fixture
def iuow(istore: InstallMemoryStore) -> InstallUowFactory:
    return istore.uow_factory()


@pytest.fixture
def verifier(uow: VerificationUowFactory) -> VerificationService:
    """Verification's use case behind install's port, over the verification store."""
    return VerificationService(uow, max_artifact_bytes=1 << 20)


@pytest.fixture
async def acme(uow: VerificationUowFactory) -> Publisher:
    publisher = Publisher(name="acme", key_id="acme-2026")
    await register_publisher_key(
        uow,
        RegisterPublisherKey(
            tenant_id="acme",
            publisher=publisher.name,
            key_id=publisher.key_id,
            algorithm="ed25519",
            public_key_pem=publisher.public_key_pem,
        ),
    )
    return publisher


def command(artifact: SignedArtifact, **kw: object) -> install.InstallSecure:
    return install.InstallSecure(
        artifact=VerifyArtifact(
            tenant_id="acme",
            plugin=artifact.plugin,
            version=artifact.version,
            tarball=artifact.tarball,
            integrity=artifact.integrity,
            signature=artifact.signature,
            key_id=artifact.key_id,
        ),
        requested_by="bob",
        **kw,  # type: ignore[arg-type]
    )


async def run_install(
    iuow: InstallUowFactory,
    verifier: VerificationService,
    artifact: SignedArtifact,
    advisories: FixedAdvisories | None = None,
) -> install.InstallOutcome:
    return await install.install_secure(
        iuow,
        command(artifact),
        verifier=verifier,
        trust=VerificationTrustScorer(),
        advisories=advisories or NoAdvisoryMatcher(),
    )


async def set_policy(iuow: InstallUowFactory, **kw: object) -> None:
    await install.set_policy(
        iuow,
        InstallPolicy("acme", **kw),
        actor="admin",
        reason="test",  # type: ignore[arg-type]
    )


async def test_signed_artifact_without_provenance_needs_approval(
    iuow: InstallUowFactory,
    verifier: VerificationService,
    acme: Publisher,
    istore: InstallMemoryStore,
) -> None:
    """Under the default policy a signed artifact scoring 60 opens an approval and says so."""
    outcome = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    request = outcome.request
    assert request.status is InstallStatus.PENDING_APPROVAL
    assert request.trust.score == 60
    assert [f.name for f in request.trust.factors] == ["publisher", "provenance"]
    assert istore.sink.of_type(ev.InstallApprovalRequired)
    assert not istore.sink.of_type(ev.InstallApproved)
    actions = [r.entry.action for r in istore.state.audit]
    assert actions == ["install.requested", "install.approval_required"]


async def test_trusted_install_is_handed_over_at_once(
    iuow: InstallUowFactory,
    verifier: VerificationService,
    acme: Publisher,
    istore: InstallMemoryStore,
) -> None:
    """When the score meets the policy, plugin.install.approved is emitted with the request."""
    await set_policy(iuow, approval_below_score=50)
    outcome = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    assert outcome.request.status is InstallStatus.APPROVED
    (approved,) = istore.sink.of_type(ev.InstallApproved)
    assert isinstance(approved, ev.InstallApproved)
    assert approved.approved_by == "policy"
    assert approved.request_id == outcome.request.request_id


async def test_policy_rejects_with_reasons(
    iuow: InstallUowFactory,
    verifier: VerificationService,
    acme: Publisher,
    istore: InstallMemoryStore,
) -> None:
    """A blocked advisory and a disallowed publisher reject the install, and nothing is approved."""
    await set_policy(iuow, allowed_publishers=("globex",), blocked_severities=(Severity.HIGH,))
    outcome = await run_install(
        iuow,
        verifier,
        acme.publish(PLUGIN, "1.0.0"),
        FixedAdvisories(AdvisoryFinding("GHSA-x", Severity.HIGH, PLUGIN)),
    )
    assert outcome.request.status is InstallStatus.REJECTED
    assert any("GHSA-x" in r for r in outcome.request.reasons)
    assert any("publisher acme" in r for r in outcome.request.reasons)
    assert istore.sink.of_type(ev.InstallRejected)
    assert not istore.sink.of_type(ev.InstallApproved)


async def test_tampered_artifact_is_rejected(
    iuow: InstallUowFactory, verifier: VerificationService, acme: Publisher
) -> None:
    """A failed verification rejects the install with the verification's reasons."""
    good = acme.publish(PLUGIN, "1.0.0")
    forged = SignedArtifact(
        good.plugin, good.version, good.tarball + b"x", good.integrity, good.signature, good.key_id
    )
    outcome = await run_install(iuow, verifier, forged)
    assert outcome.request.status is InstallStatus.REJECTED
    assert all(r.startswith("verification failed") for r in outcome.request.reasons[:1])


async def test_two_approvals_hand_over_and_duplicates_count_once(
    iuow: InstallUowFactory,
    verifier: VerificationService,
    acme: Publisher,
    istore: InstallMemoryStore,
) -> None:
    """2-of-M: a repeated approval changes nothing; the second approver hands the install over."""
    await set_policy(iuow, approval=ApprovalRule(required=2, roles=("sec", "lead")))
    outcome = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    rid = outcome.request.request_id
    first = await approvals.approve(iuow, approvals.Decide("acme", rid, "alice", "sec", "ok"))
    again = await approvals.approve(iuow, approvals.Decide("acme", rid, "alice", "sec", "ok"))
    assert again.step is approvals.Step.DUPLICATE
    assert again.request == first.request
    assert not istore.sink.of_type(ev.InstallApproved)
    done = await approvals.approve(iuow, approvals.Decide("acme", rid, "carol", "lead", ""))
    assert done.request.status is InstallStatus.APPROVED
    (approved,) = istore.sink.of_type(ev.InstallApproved)
    assert list(approved.approvers) == ["alice", "carol"]  # type: ignore[attr-defined]
    assert len(istore.sink.of_type(ev.InstallApprovalRecorded)) == 2
    kinds = [h.kind for h in done.request.history]
    assert kinds == ["requested", "approval_required", "recorded", "approved"]
    records = await audit.list_audit(iuow, "acme")
    assert [r.entry.action for r in records][-3:] == [
        "approval.approve",
        "approval.approve",
        "install.approved",
    ]
    assert chain_problems(records) == []


async def test_rejection_needs_a_reason_and_rejects(
    iuow: InstallUowFactory,
    verifier: VerificationService,
    acme: Publisher,
    istore: InstallMemoryStore,
) -> None:
    """A rejection without a comment is refused; with one, the install is rejected and announced."""
    outcome = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    rid = outcome.request.request_id
    with pytest.raises(InvalidInstallRequestError):
        await approvals.reject(
            iuow, approvals.Decide("acme", rid, "alice", "security-reviewer", "")
        )
    result = await approvals.reject(
        iuow, approvals.Decide("acme", rid, "alice", "security-reviewer", "unknown vendor")
    )
    assert result.request.status is InstallStatus.REJECTED
    (rejected,) = istore.sink.of_type(ev.InstallRejected)
    assert rejected.rejected_by == "alice"  # type: ignore[attr-defined]


SECRET_COMMENT = "vendor confirmed by phone; contract 4711"


def _published_bytes(istore: InstallMemoryStore) -> bytes:
    return b"".join(event.SerializeToString() for event, _ in istore.sink.events)


async def test_approver_comments_stay_out_of_events_but_not_out_of_the_request(
    iuow: InstallUowFactory,
    verifier: VerificationService,
    acme: Publisher,
    istore: InstallMemoryStore,
) -> None:
    """The events say a comment exists; the request and its audit trail keep it."""
    await set_policy(iuow, approval=ApprovalRule(required=2, roles=("sec", "lead")))
    outcome = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    rid = outcome.request.request_id
    await approvals.approve(iuow, approvals.Decide("acme", rid, "alice", "sec", SECRET_COMMENT))
    done = await approvals.approve(
        iuow, approvals.Decide("acme", rid, "carol", "lead", f"also {SECRET_COMMENT}")
    )
    assert done.request.status is InstallStatus.APPROVED
    recorded = istore.sink.of_type(ev.InstallApprovalRecorded)
    assert [r.has_comment for r in recorded] == [True, True]  # type: ignore[attr-defined]
    (approved,) = istore.sink.of_type(ev.InstallApproved)
    assert approved.reason == "approved"  # type: ignore[attr-defined]
    assert SECRET_COMMENT.encode() not in _published_bytes(istore)

    read = await approvals.get_request(iuow, "acme", rid)
    assert read.approval is not None
    assert [v.comment for v in read.approval.votes] == [SECRET_COMMENT, f"also {SECRET_COMMENT}"]
    reasons = [r.entry.reason for r in await audit.list_audit(iuow, "acme")]
    assert f"as sec: {SECRET_COMMENT}" in reasons
    assert f"also {SECRET_COMMENT}" in reasons


async def test_a_rejection_announces_who_rejected_but_not_the_comment(
    iuow: InstallUowFactory,
    verifier: VerificationService,
    acme: Publisher,
    istore: InstallMemoryStore,
) -> None:
    """plugin.install.rejected names the approver; the request's reasons quote the comment."""
    outcome = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    rid = outcome.request.request_id
    policy_reasons = list(outcome.request.reasons)
    result = await approvals.reject(
        iuow, approvals.Decide("acme", rid, "alice", "security-reviewer", SECRET_COMMENT)
    )
    assert result.request.reasons == (*policy_reasons, f"rejected by alice: {SECRET_COMMENT}")
    (rejected,) = istore.sink.of_type(ev.InstallRejected)
    assert list(rejected.reasons) == [*policy_reasons, "rejected by alice"]  # type: ignore[attr-defined]
    (recorded,) = istore.sink.of_type(ev.InstallApprovalRecorded)
    assert recorded.has_comment  # type: ignore[attr-defined]
    assert SECRET_COMMENT.encode() not in _published_bytes(istore)


async def test_an_approval_without_a_comment_says_so(
    iuow: InstallUowFactory,
    verifier: VerificationService,
    acme: Publisher,
    istore: InstallMemoryStore,
) -> None:
    outcome = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    await approvals.approve(
        iuow,
        approvals.Decide("acme", outcome.request.request_id, "alice", "security-reviewer", "  "),
    )
    (recorded,) = istore.sink.of_type(ev.InstallApprovalRecorded)
    assert not recorded.has_comment  # type: ignore[attr-defined]


async def test_scheduler_expires_after_the_deadline(
    iuow: InstallUowFactory,
    verifier: VerificationService,
    acme: Publisher,
    istore: InstallMemoryStore,
    clock: ManualClock,
) -> None:
    """The sweep leaves an approval alone before its deadline and expires it after."""
    await set_policy(iuow, approval=ApprovalRule(timeout_seconds=600))
    outcome = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    clock.advance(599)
    assert await approvals.expire_due_approvals(iuow, clock.now(), 10) == 0
    clock.advance(1)
    assert await approvals.expire_due_approvals(iuow, clock.now(), 10) == 1
    request = await approvals.get_request(iuow, "acme", outcome.request.request_id)
    assert request.status is InstallStatus.EXPIRED
    assert istore.sink.of_type(ev.InstallExpired)
    with pytest.raises(ApprovalNotAllowedError):
        await approvals.approve(
            iuow, approvals.Decide("acme", request.request_id, "al", "security-reviewer", "")
        )


async def test_scheduler_escalates_then_escalation_role_approves(
    iuow: InstallUowFactory,
    verifier: VerificationService,
    acme: Publisher,
    istore: InstallMemoryStore,
    clock: ManualClock,
) -> None:
    """An escalating rule hands the decision to the escalation role, who can then approve."""
    await set_policy(
        iuow,
        approval=ApprovalRule(
            timeout_seconds=60,
            on_deadline=DeadlineAction.ESCALATE,
            escalation_roles=("platform-admin",),
        ),
    )
    outcome = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    clock.advance(60)
    assert await approvals.expire_due_approvals(iuow, clock.now(), 10) == 1
    (escalated,) = istore.sink.of_type(ev.InstallEscalated)
    assert list(escalated.roles) == ["platform-admin"]  # type: ignore[attr-defined]
    result = await approvals.approve(
        iuow, approvals.Decide("acme", outcome.request.request_id, "root", "platform-admin", "")
    )
    assert result.request.status is InstallStatus.APPROVED


async def test_other_tenant_cannot_see_or_approve(
    iuow: InstallUowFactory, verifier: VerificationService, acme: Publisher
) -> None:
    """A request is invisible to another tenant, so it cannot be approved from there."""
    outcome = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    with pytest.raises(InstallRequestNotFoundError):
        await approvals.approve(
            iuow,
            approvals.Decide("globex", outcome.request.request_id, "al", "security-reviewer", ""),
        )


@pytest.mark.parametrize(
    "case",
    [
        ({"dependencies": ("left-pad",)}, "dependencies"),
        ({"dependencies": ("@scope/x@",)}, "dependencies"),
        ({"rollout_phases": (0, 100)}, "rollout_phases"),
        ({"requested_by": ""}, "requested_by"),
        ({"requested_by": "bo\x00b"}, "requested_by"),
    ],
)
async def test_malformed_install_changes_nothing(
    iuow: InstallUowFactory,
    acme: Publisher,
    istore: InstallMemoryStore,
    store: VerificationMemoryStore,
    case: tuple[dict[str, object], str],
) -> None:
    """A malformed request is refused naming the field, before anything is verified or stored."""
    change, field = case
    verifier = VerificationService(store.uow_factory(), max_artifact_bytes=1 << 20)
    events_before = len(istore.sink.events)
    base = command(acme.publish(PLUGIN, "1.0.0"))
    fields = {
        "artifact": base.artifact,
        "requested_by": base.requested_by,
        "dependencies": base.dependencies,
        "rollout_phases": base.rollout_phases,
    }
    fields.update(change)
    with pytest.raises(InvalidInstallRequestError, match=field):
        await install.install_secure(
            iuow,
            install.InstallSecure(**fields),  # type: ignore[arg-type]
            verifier=verifier,
            trust=VerificationTrustScorer(),
            advisories=NoAdvisoryMatcher(),
        )
    assert len(istore.sink.events) == events_before
    assert store.state.verifications == {}
    assert istore.state.requests == {}


@pytest.mark.parametrize(
    "case",
    [
        (PLUGIN, "1.0.0.0.0-", (), r"^invalid version '1\.0\.0\.0\.0-': not an exact"),
        (PLUGIN, "v1.0.0", (), r"^invalid version 'v1\.0\.0'"),
        ("@Acme/Plugin", "1.0.0", (), r"^invalid plugin '@Acme/Plugin': name has uppercase"),
        (PLUGIN, "1.0.0", ("lodash@latest",), r"^invalid dependencies\[0\] version 'latest'"),
        (PLUGIN, "1.0.0", ("a@1.0.0", "b c@1.0.0"), r"^invalid dependencies\[1\] name 'b c'"),
    ],
)
async def test_an_inexact_version_or_bad_name_is_refused_before_verification(
    iuow: InstallUowFactory,
    acme: Publisher,
    istore: InstallMemoryStore,
    store: VerificationMemoryStore,
    case: tuple[str, str, tuple[str, ...], str],
) -> None:
    """Names and versions follow the kernel's npm rule; a refusal names the field, keeps nothing."""
    plugin, version, dependencies, message = case
    verifier = VerificationService(store.uow_factory(), max_artifact_bytes=1 << 20)
    with pytest.raises(InvalidArgumentError, match=message):
        await install.install_secure(
            iuow,
            command(acme.publish(plugin, version), dependencies=dependencies),
            verifier=verifier,
            trust=VerificationTrustScorer(),
            advisories=NoAdvisoryMatcher(),
        )
    assert store.state.verifications == {}
    assert istore.state.requests == {}
    assert istore.sink.events == []


async def test_a_dependency_may_be_an_old_package(
    iuow: InstallUowFactory, verifier: VerificationService, acme: Publisher
) -> None:
    """A dependency named before npm's lowercase rule (JSONStream) is accepted."""
    outcome = await install.install_secure(
        iuow,
        command(acme.publish(PLUGIN, "1.0.0"), dependencies=("JSONStream@1.3.5",)),
        verifier=verifier,
        trust=VerificationTrustScorer(),
        advisories=NoAdvisoryMatcher(),
    )
    assert outcome.request.plugin == PLUGIN


async def test_audit_pages_link_to_the_record_before(
    iuow: InstallUowFactory, istore: InstallMemoryStore
) -> None:
    """A later page is checked against the record before it; a forged link is reported."""
    for n in range(5):
        await set_policy(iuow, min_trust_score=n)
    page, problems = await audit.audit_page(iuow, "acme", after=2, limit=2)
    assert [r.sequence for r in page] == [3, 4]
    assert problems == []
    istore.state.audit[3] = replace(istore.state.audit[3], prev_hash="sha256:" + "f" * 64)
    _, broken = await audit.audit_page(iuow, "acme", after=3, limit=2)
    assert "record 4: does not follow the previous hash" in broken


async def test_requester_cannot_approve_their_own_install(
    iuow: InstallUowFactory, verifier: VerificationService, acme: Publisher
) -> None:
    """Four eyes: the requester's approval is refused, though they may still reject."""
    outcome = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    rid = outcome.request.request_id
    with pytest.raises(ApprovalNotAllowedError, match="requested this install"):
        await approvals.approve(iuow, approvals.Decide("acme", rid, "bob", "security-reviewer", ""))
    withdrawn = await approvals.reject(
        iuow, approvals.Decide("acme", rid, "bob", "security-reviewer", "withdrawn")
    )
    assert withdrawn.request.status is InstallStatus.REJECTED


async def test_required_provenance_without_attestations_is_rejected(
    iuow: InstallUowFactory, verifier: VerificationService, acme: Publisher
) -> None:
    """A policy requiring provenance rejects a signed artifact that brought no attestations."""
    await set_policy(iuow, require_provenance=True, approval_below_score=0)
    outcome = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    assert outcome.request.status is InstallStatus.REJECTED
    assert outcome.request.reasons == (
        "the policy requires verified provenance and none was verified",
    )


async def test_attestations_without_a_configured_verifier_fail_the_provenance_check(
    iuow: InstallUowFactory, verifier: VerificationService, acme: Publisher
) -> None:
    """Attestations sent to a service without a provenance verifier fail its check, not pass."""
    artifact = acme.publish(PLUGIN, "1.0.0")
    base = command(artifact)
    outcome = await install.install_secure(
        iuow,
        install.InstallSecure(
            artifact=replace(base.artifact, attestations=b'{"attestations": []}'),
            requested_by="bob",
        ),
        verifier=verifier,
        trust=VerificationTrustScorer(),
        advisories=NoAdvisoryMatcher(),
    )
    (check,) = [c for c in outcome.verification.report.checks if c.name == "provenance"]
    assert not check.passed
    assert outcome.request.status is InstallStatus.REJECTED


async def test_a_verified_caller_without_the_role_is_refused_and_nothing_is_recorded(
    iuow: InstallUowFactory,
    verifier: VerificationService,
    acme: Publisher,
    istore: InstallMemoryStore,
) -> None:
    """With verified roles, deciding as a role the token lacks is PERMISSION_DENIED, naming it."""
    outcome = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    rid = outcome.request.request_id
    audited = len(istore.state.audit)
    for decide in (approvals.approve, approvals.reject):
        with pytest.raises(RoleNotHeldError, match="'dave' may not decide as 'security-reviewer'"):
            await decide(
                iuow,
                approvals.Decide(
                    "acme", rid, "dave", "security-reviewer", "no", verified_roles=("viewer",)
                ),
            )
    assert RoleNotHeldError("dave", "r", ()).code == "PERMISSION_DENIED"
    assert len(istore.state.audit) == audited
    assert not istore.sink.of_type(ev.InstallApprovalRecorded)


async def test_a_verified_caller_holding_the_role_approves(
    iuow: InstallUowFactory, verifier: VerificationService, acme: Publisher
) -> None:
    """A token carrying the rule's role counts, recorded under the token's subject."""
    outcome = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    result = await approvals.approve(
        iuow,
        approvals.Decide(
            "acme",
            outcome.request.request_id,
            "approver-1",
            "security-reviewer",
            "",
            verified_roles=("security-reviewer", "viewer"),
        ),
    )
    assert result.request.status is InstallStatus.APPROVED
    assert result.request.approval is not None
    assert result.request.approval.approvers == ("approver-1",)


async def test_the_authenticated_requester_behind_a_named_requester_cannot_approve(
    iuow: InstallUowFactory, verifier: VerificationService, acme: Publisher
) -> None:
    """Four eyes binds the caller too: requested "bob (via portal)", portal may not approve."""
    artifact = acme.publish(PLUGIN, "1.0.0")
    outcome = await install.install_secure(
        iuow,
        replace(command(artifact), requested_by="bob (via portal)"),
        verifier=verifier,
        trust=VerificationTrustScorer(),
        advisories=NoAdvisoryMatcher(),
    )
    rid = outcome.request.request_id
    for who in ("portal", "bob", "bob (via portal)"):
        with pytest.raises(ApprovalNotAllowedError, match="requested this install"):
            await approvals.approve(
                iuow,
                approvals.Decide(
                    "acme", rid, who, "security-reviewer", "", verified_roles=("security-reviewer",)
                ),
            )


@pytest.mark.parametrize(
    ("requested_by", "expected"),
    [
        ("bob", {"bob"}),
        ("bob (via portal)", {"bob (via portal)", "bob", "portal"}),
        ("odd (via", {"odd (via"}),
    ],
)
def test_requesters_are_the_named_actor_and_the_caller_behind_it(
    requested_by: str, expected: set[str]
) -> None:
    """requesters() splits "name (via subject)" into both identities, and keeps other text whole."""
    assert approvals.requesters(requested_by) == expected


class CountingQuota:
    """A quota gate with room for `room` installs that records what it was asked."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.held: dict[str, str] = {}
        self.resources: dict[str, DeclaredResources | None] = {}
        self.released: list[tuple[str, str]] = []

    async def reserve_install(
        self,
        tenant_id: str,
        request_id: str,
        plugin: str,
        version: str,
        resources: DeclaredResources | None = None,
    ) -> None:
        if len(self.held) >= self.room:
            raise InstallQuotaExceededError(f"plugins: 1 wanted, {self.room} of {self.room} held")
        self.held[request_id] = f"{tenant_id}/{plugin}@{version}"
        self.resources[request_id] = resources

    async def release(self, tenant_id: str, request_id: str, reason: str) -> None:
        self.held.pop(request_id, None)
        self.released.append((f"{tenant_id}/{request_id}", reason))


class Declarations:
    """What compat would answer: declarations by "tenant/plugin@version"; `down` fails all."""

    def __init__(self, versions: dict[str, DeclaredResources], *, down: bool = False) -> None:
        self.versions = versions
        self.down = down

    async def declared(self, tenant_id: str, plugin: str, version: str) -> DeclaredResources | None:
        if self.down:
            raise DeclaredResourcesUnavailableError("compat could not say: UNAVAILABLE")
        return self.versions.get(f"{tenant_id}/{plugin}@{version}")


class FailingTrust(VerificationTrustScorer):
    async def score(self, *_args: object, **_kwargs: object) -> object:  # type: ignore[override]
        raise RuntimeError("trust store down")


async def test_a_full_quota_refuses_the_install_before_verifying_it(
    iuow: InstallUowFactory,
    verifier: VerificationService,
    acme: Publisher,
    istore: InstallMemoryStore,
) -> None:
    """The reservation is taken under the request's id; without room nothing is recorded."""
    quota = CountingQuota(room=1)
    first = await install.install_secure(
        iuow,
        command(acme.publish(PLUGIN, "1.0.0")),
        verifier=verifier,
        trust=VerificationTrustScorer(),
        advisories=NoAdvisoryMatcher(),
        quota=quota,
    )
    assert list(quota.held) == [first.request.request_id]
    with pytest.raises(InstallQuotaExceededError, match="1 of 1 held"):
        await install.install_secure(
            iuow,
            command(acme.publish("@acme/other", "1.0.0")),
            verifier=verifier,
            trust=VerificationTrustScorer(),
            advisories=NoAdvisoryMatcher(),
            quota=quota,
        )
    assert len(istore.state.requests) == 1


async def test_an_install_failing_before_its_decision_gives_its_reservation_back(
    iuow: InstallUowFactory, verifier: VerificationService, acme: Publisher
) -> None:
    """An error after the reservation releases it, naming the failure."""
    quota = CountingQuota(room=1)
    with pytest.raises(RuntimeError, match="trust store down"):
        await install.install_secure(
            iuow,
            command(acme.publish(PLUGIN, "1.0.0")),
            verifier=verifier,
            trust=FailingTrust(),
            advisories=NoAdvisoryMatcher(),
            quota=quota,
        )
    assert quota.held == {}
    assert [reason for _, reason in quota.released] == ["install failed: RuntimeError"]


async def test_the_declared_cpu_and_memory_are_held_with_the_plugin(
    iuow: InstallUowFactory, verifier: VerificationService, acme: Publisher
) -> None:
    """A version compat knows a declaration of holds it in its claim; another holds none."""
    quota = CountingQuota(room=5)
    declared = DeclaredResources(cpu_millicores=400, memory_mib=512)
    source = Declarations({f"acme/{PLUGIN}@1.0.0": declared})
    outcomes = [
        await install.install_secure(
            iuow,
            command(acme.publish(plugin, "1.0.0")),
            verifier=verifier,
            trust=VerificationTrustScorer(),
            advisories=NoAdvisoryMatcher(),
            quota=quota,
            resources=source,
        )
        for plugin in (PLUGIN, "@acme/other")
    ]
    assert [quota.resources[o.request.request_id] for o in outcomes] == [declared, None]


async def test_without_an_answer_from_compat_nothing_is_reserved_or_stored(
    iuow: InstallUowFactory,
    verifier: VerificationService,
    acme: Publisher,
    istore: InstallMemoryStore,
) -> None:
    """compat unreachable: UNAVAILABLE before any hold is taken; no request is recorded."""
    quota = CountingQuota(room=5)
    with pytest.raises(DeclaredResourcesUnavailableError, match="compat could not say"):
        await install.install_secure(
            iuow,
            command(acme.publish(PLUGIN, "1.0.0")),
            verifier=verifier,
            trust=VerificationTrustScorer(),
            advisories=NoAdvisoryMatcher(),
            quota=quota,
            resources=Declarations({}, down=True),
        )
    assert (quota.held, quota.released, istore.state.requests) == ({}, [], {})


async def test_uninstall_ends_every_approved_request_of_the_plugin_once(
    iuow: InstallUowFactory,
    verifier: VerificationService,
    acme: Publisher,
    istore: InstallMemoryStore,
    clock: ManualClock,
) -> None:
    """Approved requests become UNINSTALLED, each announced and audited; again: no change."""
    await set_policy(iuow, approval_below_score=50)
    v1 = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    clock.advance(1)  # requests are answered oldest first
    v2 = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.1.0"))
    other = await run_install(iuow, verifier, acme.publish("@acme/other", "1.0.0"))
    gone = await uninstall(iuow, "acme", PLUGIN, actor="bob", reason="not used")
    assert [(r.request_id, r.status) for r in gone] == [
        (v1.request.request_id, InstallStatus.UNINSTALLED),
        (v2.request.request_id, InstallStatus.UNINSTALLED),
    ]
    assert gone[0].history[-1].kind == "uninstalled"
    events = istore.sink.of_type(ev.InstallUninstalled)
    assert [
        (e.request_id, e.version, e.uninstalled_by, e.reason)
        for e in events
        if isinstance(e, ev.InstallUninstalled)
    ] == [
        (v1.request.request_id, "1.0.0", "bob", "not used"),
        (v2.request.request_id, "1.1.0", "bob", "not used"),
    ]
    records = await audit.list_audit(iuow, "acme")
    assert [r.entry.action for r in records][-2:] == ["install.uninstalled"] * 2
    # Again: the same answer, nothing announced, nothing audited.
    again = await uninstall(iuow, "acme", PLUGIN, actor="bob", reason="twice")
    assert [r.request_id for r in again] == [r.request_id for r in gone]
    assert len(istore.sink.of_type(ev.InstallUninstalled)) == 2
    assert len(await audit.list_audit(iuow, "acme")) == len(records)
    assert istore.state.requests[other.request.request_id].status is InstallStatus.APPROVED


async def test_uninstalling_what_was_never_installed_is_not_found_and_changes_nothing(
    iuow: InstallUowFactory,
    verifier: VerificationService,
    acme: Publisher,
    istore: InstallMemoryStore,
) -> None:
    """A plugin only pending approval (or never asked for) has nothing to uninstall."""
    pending = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    assert pending.request.status is InstallStatus.PENDING_APPROVAL
    with pytest.raises(PluginNotInstalledError, match="no approved install of"):
        await uninstall(iuow, "acme", PLUGIN, actor="bob", reason="")
    with pytest.raises(PluginNotInstalledError):
        await uninstall(iuow, "acme", "@acme/never", actor="bob", reason="")
    with pytest.raises(InvalidArgumentError):
        await uninstall(iuow, "acme", "Not A Name", actor="bob", reason="")
    assert istore.sink.of_type(ev.InstallUninstalled) == []
    assert istore.state.requests[pending.request.request_id].status is (
        InstallStatus.PENDING_APPROVAL
    )


async def test_a_private_note_stays_on_the_request_and_out_of_events_history_and_audit(
    iuow: InstallUowFactory,
    verifier: VerificationService,
    acme: Publisher,
    istore: InstallMemoryStore,
) -> None:
    """The note is kept on the request for reviewers; nothing published or audited quotes it."""
    note = "maintainer admitted in private the fix is partial"
    await set_policy(iuow, approval=ApprovalRule(required=2, roles=("sec", "lead")))
    outcome = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    rid = outcome.request.request_id
    first = await approvals.approve(
        iuow, approvals.Decide("acme", rid, "alice", "sec", "looks fine", private_note=note)
    )
    rejected = await approvals.reject(
        iuow, approvals.Decide("acme", rid, "carol", "lead", "no", private_note="second note")
    )
    assert [(n.author, n.role, n.text) for n in first.request.private_notes] == [
        ("alice", "sec", note)
    ]
    assert [n.text for n in rejected.request.private_notes] == [note, "second note"]
    stored = await approvals.get_request(iuow, "acme", rid)
    assert stored.private_notes == rejected.request.private_notes
    published = [str(e) for e, _ in istore.sink.events]
    assert published
    assert not any(note in e or "second note" in e for e in published)
    assert not any(note in h.detail for h in stored.history)
    assert not any(note in r for r in stored.reasons)
    records = await audit.list_audit(iuow, "acme")
    assert records
    assert not any(note in r.entry.reason for r in records)


async def test_an_overlong_private_note_is_refused_and_changes_nothing(
    iuow: InstallUowFactory, verifier: VerificationService, acme: Publisher
) -> None:
    """A note over the text limit is INVALID_ARGUMENT naming the field; the vote is not cast."""
    outcome = await run_install(iuow, verifier, acme.publish(PLUGIN, "1.0.0"))
    rid = outcome.request.request_id
    with pytest.raises(InvalidInstallRequestError, match="private_note"):
        await approvals.approve(
            iuow, approvals.Decide("acme", rid, "alice", "sec", "", private_note="x" * 1025)
        )
    assert await approvals.get_request(iuow, "acme", rid) == outcome.request
