"""Protobuf <-> install domain, for the InstallService servicer."""

from __future__ import annotations

from portico.security.v1 import install_pb2 as pb
from portico_common.approvals import DeadlineAction
from portico_common.timestamps import to_timestamp
from portico_security.install.domain.audit import AuditRecord
from portico_security.install.domain.policy import (
    ApprovalRule,
    InstallPolicy,
    Severity,
)
from portico_security.install.domain.requests import InstallRequest, InstallStatus
from portico_security.install.errors import InvalidInstallRequestError

_STATUS = {
    InstallStatus.REJECTED: pb.INSTALL_STATUS_REJECTED,
    InstallStatus.PENDING_APPROVAL: pb.INSTALL_STATUS_PENDING_APPROVAL,
    InstallStatus.APPROVED: pb.INSTALL_STATUS_APPROVED,
    InstallStatus.EXPIRED: pb.INSTALL_STATUS_EXPIRED,
    InstallStatus.UNINSTALLED: pb.INSTALL_STATUS_UNINSTALLED,
}
_DEADLINE_TO_DOMAIN = {
    pb.DEADLINE_ACTION_UNSPECIFIED: DeadlineAction.EXPIRE,
    pb.DEADLINE_ACTION_EXPIRE: DeadlineAction.EXPIRE,
    pb.DEADLINE_ACTION_ESCALATE: DeadlineAction.ESCALATE,
}
_DEADLINE_TO_PROTO = {
    DeadlineAction.EXPIRE: pb.DEADLINE_ACTION_EXPIRE,
    DeadlineAction.ESCALATE: pb.DEADLINE_ACTION_ESCALATE,
}


def policy_from_proto(tenant_id: str, policy: pb.InstallPolicy) -> InstallPolicy:
    """The domain policy; its own checks reject out-of-range values."""
    try:
        severities = tuple(Severity(s.upper()) for s in policy.blocked_severities)
    except ValueError as exc:
        raise InvalidInstallRequestError("blocked_severities", str(exc)) from None
    action = _DEADLINE_TO_DOMAIN.get(policy.approval.on_deadline)
    if action is None:
        raise InvalidInstallRequestError("approval.on_deadline", "unknown deadline action")
    rule = policy.approval
    return InstallPolicy(
        tenant_id=tenant_id,
        min_trust_score=policy.min_trust_score,
        approval_below_score=policy.approval_below_score,
        require_provenance=policy.require_provenance,
        allowed_publishers=tuple(policy.allowed_publishers),
        blocked_severities=severities,
        max_artifact_bytes=policy.max_artifact_bytes,
        approval=ApprovalRule(
            required=rule.required,
            roles=tuple(rule.roles),
            timeout_seconds=rule.timeout_seconds,
            on_deadline=action,
            escalation_roles=tuple(rule.escalation_roles),
        ),
    )


def policy_to_proto(policy: InstallPolicy) -> pb.InstallPolicy:
    rule = policy.approval
    return pb.InstallPolicy(
        tenant_id=policy.tenant_id,
        min_trust_score=policy.min_trust_score,
        approval_below_score=policy.approval_below_score,
        require_provenance=policy.require_provenance,
        allowed_publishers=policy.allowed_publishers,
        blocked_severities=[s.value for s in policy.blocked_severities],
        max_artifact_bytes=policy.max_artifact_bytes,
        approval=pb.ApprovalRule(
            required=rule.required,
            roles=rule.roles,
            timeout_seconds=rule.timeout_seconds,
            on_deadline=_DEADLINE_TO_PROTO[rule.on_deadline],
            escalation_roles=rule.escalation_roles,
        ),
    )


def request_to_proto(request: InstallRequest, *, private_notes: bool = False) -> pb.InstallRequest:
    """The request as the API shows it; its private notes only when `private_notes`."""
    message = pb.InstallRequest(
        request_id=request.request_id,
        tenant_id=request.tenant_id,
        plugin=request.plugin,
        version=request.version,
        status=_STATUS[request.status],
        reasons=request.reasons,
        trust=pb.TrustBreakdown(
            score=request.trust.score,
            factors=[
                pb.InstallTrustFactor(
                    name=f.name, score=f.score, weight=f.weight, evidence=f.evidence
                )
                for f in request.trust.factors
            ],
        ),
        advisories=[
            pb.InstallAdvisory(
                advisory_id=a.advisory_id,
                severity=a.severity.value,
                package=a.package,
                summary=a.summary,
                fixed_versions=a.fixed_versions,
            )
            for a in request.advisories
        ],
        verification_id=request.verification_id,
        publisher=request.publisher,
        evidence_digest=request.evidence_digest,
        requested_by=request.requested_by,
        created_at=to_timestamp(request.created_at),
        history=[
            pb.InstallHistoryEntry(
                at=to_timestamp(h.at), kind=h.kind, actor=h.actor, detail=h.detail
            )
            for h in request.history
        ],
        private_notes=[
            pb.ReviewNote(at=to_timestamp(n.at), author=n.author, role=n.role, text=n.text)
            for n in (request.private_notes if private_notes else ())
        ],
    )
    if request.approval is not None:
        approval = request.approval
        message.approval.CopyFrom(
            pb.ApprovalStatus(
                required=approval.rule.required,
                eligible_roles=approval.eligible_roles,
                deadline=to_timestamp(approval.deadline),
                escalated=approval.escalated,
                approvers=approval.approvers,
                votes=[
                    pb.ApprovalVote(
                        approver=v.approver,
                        role=v.role,
                        approve=v.approve,
                        comment=v.comment,
                        at=to_timestamp(v.at),
                    )
                    for v in approval.votes
                ],
            )
        )
    return message


def record_to_proto(record: AuditRecord) -> pb.AuditRecord:
    entry = record.entry
    return pb.AuditRecord(
        sequence=record.sequence,
        at=to_timestamp(entry.at),
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        reason=entry.reason,
        evidence_digest=entry.evidence_digest,
        prev_hash=record.prev_hash,
        hash=record.hash,
    )
