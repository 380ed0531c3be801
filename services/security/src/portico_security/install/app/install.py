"""Secure install: verify, score, apply the tenant's policy, then reject, ask or hand over.

Hand-over is an event: `plugin.install.approved` (consumed by rollout, which
requests the canary and still waits for plugin.artifact.verified and
plugin.compat.checked). Every decision is an audit record in the same
transaction as the state change and its events.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict

from portico_common.npm import parse_package_name, require_package_name, require_version
from portico_common.tenants import require_tenant_id
from portico_security.install.app.audit import record
from portico_security.install.app.ports import (
    AdvisoryMatcher,
    ArtifactVerifier,
    DeclaredResourcesSource,
    InstallUnitOfWork,
    InstallUowFactory,
    QuotaGate,
    TrustScorer,
)
from portico_security.install.app.validation import check_text
from portico_security.install.domain.approvals import Approval
from portico_security.install.domain.events import (
    InstallApprovalRequired,
    InstallApproved,
    InstallEvent,
    InstallExpired,
    InstallRejected,
    InstallRequested,
)
from portico_security.install.domain.policy import (
    InstallEvidence,
    InstallPolicy,
    Outcome,
    decide,
    policy_to_json,
)
from portico_security.install.domain.requests import (
    InstallRequest,
    InstallStatus,
    evidence_digest,
)
from portico_security.install.errors import InvalidInstallRequestError
from portico_security.verification.app.commands import VerifyArtifact
from portico_security.verification.domain.decisions import Verification
from portico_security.verification.domain.provenance import PROVENANCE_CHECK
from portico_security.verification.domain.verification import Verdict

MAX_DEPENDENCIES = 10_000


class _Ids(TypedDict):
    """The fields every install event shares."""

    tenant_id: str
    request_id: str
    plugin: str
    version: str


@dataclass(frozen=True, slots=True)
class InstallSecure:
    """Install `plugin@version` for a tenant if its policy allows it."""

    artifact: VerifyArtifact
    requested_by: str
    dependencies: tuple[str, ...] = ()
    rollout_phases: tuple[int, ...] = field(default=())
    rollout_bake_seconds: int = 0


@dataclass(frozen=True, slots=True)
class InstallOutcome:
    """The stored request and the verification it rests on."""

    request: InstallRequest
    verification: Verification


def new_request_id() -> str:
    return str(uuid.uuid4())


async def get_policy(uow: InstallUowFactory, tenant_id: str) -> InstallPolicy:
    """The tenant's policy, or the default one when it has not set any."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        policy = await tx.install_policies.get(tenant_id)
    return policy if policy is not None else InstallPolicy(tenant_id=tenant_id)


async def set_policy(
    uow: InstallUowFactory, policy: InstallPolicy, *, actor: str, reason: str
) -> InstallPolicy:
    """Stores the tenant's policy and audits the change."""
    require_tenant_id(policy.tenant_id)
    check_text("actor", actor, required=True)
    check_text("reason", reason)
    async with uow(policy.tenant_id) as tx:
        await tx.install_policies.put(policy)
        await record(
            tx,
            policy.tenant_id,
            actor=actor,
            action="policy.set",
            subject="install-policy",
            reason=reason or "policy updated",
            evidence_digest=policy_digest(policy),
        )
    return policy


async def install_secure(
    uow: InstallUowFactory,
    command: InstallSecure,
    *,
    verifier: ArtifactVerifier,
    trust: TrustScorer,
    advisories: AdvisoryMatcher,
    new_id: Callable[[], str] = new_request_id,
    quota: QuotaGate | None = None,
    resources: DeclaredResourcesSource | None = None,
) -> InstallOutcome:
    """Verifies, scores and judges the artifact; records and announces the decision.

    With a `quota`, one plugin is first reserved at tenancy under the request's
    id (a full quota refuses the install before any verification); an error
    before the decision is stored gives it back. A rejection or an expiry
    later is released by tenancy from the event. With `resources`, the CPU and
    memory the version declared to compat are held in that same claim; a
    version that declared none holds its plugin only.
    """
    artifact = command.artifact
    require_tenant_id(artifact.tenant_id)
    # Refused here, before verification records a decision about a version that
    # can never be rolled out.
    require_package_name(artifact.plugin, "plugin")
    require_version(artifact.version, "version")
    check_text("requested_by", command.requested_by, required=True)
    if len(command.dependencies) > MAX_DEPENDENCIES:
        raise InvalidInstallRequestError("dependencies", f"more than {MAX_DEPENDENCIES}")
    dependencies = tuple(
        _dependency(dep, f"dependencies[{index}]") for index, dep in enumerate(command.dependencies)
    )
    if any(p < 1 or p > 100 for p in command.rollout_phases):
        raise InvalidInstallRequestError("rollout_phases", "each phase is a percentage 1..100")
    request_id = new_id()
    if quota is None:
        return await _install(uow, command, request_id, dependencies, verifier, trust, advisories)
    declared = (
        await resources.declared(artifact.tenant_id, artifact.plugin, artifact.version)
        if resources is not None
        else None
    )
    await quota.reserve_install(
        artifact.tenant_id, request_id, artifact.plugin, artifact.version, declared
    )
    try:
        return await _install(uow, command, request_id, dependencies, verifier, trust, advisories)
    except BaseException as exc:
        await quota.release(artifact.tenant_id, request_id, f"install failed: {type(exc).__name__}")
        raise


async def _install(  # noqa: PLR0917 - install_secure's own arguments, passed on
    uow: InstallUowFactory,
    command: InstallSecure,
    request_id: str,
    dependencies: tuple[tuple[str, str], ...],
    verifier: ArtifactVerifier,
    trust: TrustScorer,
    advisories: AdvisoryMatcher,
) -> InstallOutcome:
    artifact = command.artifact
    policy = await get_policy(uow, artifact.tenant_id)
    verified = await verifier.verify(artifact)
    verification, publisher = verified.verification, verified.publisher
    breakdown = await trust.score(
        artifact.tenant_id,
        artifact.plugin,
        artifact.version,
        verification=verification,
        publisher=publisher,
        dependencies=dependencies,
    )
    found = await advisories.match(
        artifact.tenant_id, artifact.plugin, artifact.version, dependencies
    )
    evidence = InstallEvidence(
        verified=verification.verdict is Verdict.VERIFIED,
        verification_reasons=verification.report.reasons,
        publisher=publisher,
        size=len(artifact.tarball),
        has_provenance=any(
            c.name == PROVENANCE_CHECK and c.passed for c in verification.report.checks
        ),
        trust_score=breakdown.score,
        advisories=found,
    )
    decision = decide(policy, evidence)
    async with uow(artifact.tenant_id) as tx:
        now = tx.clock.now()
        request = InstallRequest.decided(
            request_id=request_id,
            tenant_id=artifact.tenant_id,
            plugin=artifact.plugin,
            version=artifact.version,
            verification_id=verification.verification_id,
            publisher=publisher,
            trust=breakdown,
            advisories=found,
            decision=decision,
            approval=(
                Approval.open(policy.approval, now)
                if decision.outcome is Outcome.APPROVAL_REQUIRED
                else None
            ),
            requested_by=command.requested_by,
            rollout_phases=command.rollout_phases,
            rollout_bake_seconds=command.rollout_bake_seconds,
            now=now,
        )
        await tx.install_requests.add(request)
        await tx.publish(
            [
                InstallRequested(
                    tenant_id=request.tenant_id,
                    request_id=request.request_id,
                    plugin=request.plugin,
                    version=request.version,
                    requested_by=request.requested_by,
                    trust_score=request.trust.score,
                    verification_id=request.verification_id,
                    evidence_digest=request.evidence_digest,
                )
            ]
        )
        await record(
            tx,
            request.tenant_id,
            actor=command.requested_by,
            action="install.requested",
            subject=request.subject,
            reason=f"request {request.request_id}",
            evidence_digest=request.evidence_digest,
        )
        await announce_decision(tx, request, actor="policy", reason="; ".join(decision.reasons))
    return InstallOutcome(request, verification)


async def announce_decision(
    tx: InstallUnitOfWork,
    request: InstallRequest,
    *,
    actor: str,
    reason: str,
    announced: str | None = None,
) -> None:
    """The event and the audit record of the request's current status.

    `announced` is the event's reason when `reason` quotes an approver's comment,
    which only the sealed audit record may hold.
    """
    event, action = decision_event(
        request, actor=actor, reason=reason if announced is None else announced
    )
    await tx.publish([event])
    await record(
        tx,
        request.tenant_id,
        actor=actor,
        action=action,
        subject=request.subject,
        reason=reason,
        evidence_digest=request.evidence_digest,
    )


def decision_event(request: InstallRequest, *, actor: str, reason: str) -> tuple[InstallEvent, str]:
    """The event announcing the request's current status, and its audit action."""
    ids = _Ids(
        tenant_id=request.tenant_id,
        request_id=request.request_id,
        plugin=request.plugin,
        version=request.version,
    )
    if request.status is InstallStatus.APPROVED:
        approvers = request.approval.approvers if request.approval is not None else ()
        approved = InstallApproved(
            **ids,
            approved_by=actor,
            approvers=approvers,
            reason=reason,
            trust_score=request.trust.score,
            verification_id=request.verification_id,
            rollout_phases=request.rollout_phases,
            rollout_bake_seconds=request.rollout_bake_seconds,
        )
        return approved, "install.approved"
    if request.status is InstallStatus.REJECTED:
        rejected = InstallRejected(**ids, reasons=request.announced_reasons(), rejected_by=actor)
        return rejected, "install.rejected"
    if request.status is InstallStatus.EXPIRED:
        return InstallExpired(**ids), "install.expired"
    approval = request.approval
    assert approval is not None  # noqa: S101 - PENDING_APPROVAL always has a workflow
    required = InstallApprovalRequired(
        **ids,
        required=approval.rule.required,
        roles=approval.eligible_roles,
        deadline=approval.deadline,
        reasons=request.reasons,
        trust_score=request.trust.score,
    )
    return required, "install.approval_required"


def policy_digest(policy: InstallPolicy) -> str:
    return evidence_digest(policy_to_json(policy))


def _dependency(spec: str, field: str) -> tuple[str, str]:
    """("name", "version") of "name@version" (the name may be scoped: "@scope/name@1.0.0").

    The name may be an old package's (`JSONStream`): it passes the rules npm still
    enforces for those; the version is one exact version.
    """
    check_text("dependencies", spec, required=True)
    name, sep, version = spec.rpartition("@")
    if not sep or not name or not version:
        raise InvalidInstallRequestError("dependencies", f"{spec!r} is not name@version")
    parse_package_name(name, field=f"{field} name", new_package=False)
    return name, require_version(version, f"{field} version")
