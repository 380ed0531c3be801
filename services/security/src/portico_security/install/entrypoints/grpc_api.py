"""gRPC entrypoint of secure install, approvals and the audit trail (thin mapping)."""

# The same exemptions as entrypoints/grpc_*.py: method names are fixed by the
# generated servicer, and every method receives the context, used or not.

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from portico.security.v1 import install_pb2 as pb
from portico.security.v1 import install_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_common.grpc.tokens import current_claims
from portico_common.runtime import Background, Runtime
from portico_common.uow import uow_factory
from portico_security.install.adapters.postgres import InstallPgUnitOfWork
from portico_security.install.adapters.trust import FiveFactorTrustScorer, OsvAdvisoryMatcher
from portico_security.install.app import approvals
from portico_security.install.app import install as use_cases
from portico_security.install.app.ports import (
    AdvisoryMatcher,
    InstallUnitOfWorkFactory,
    TrustScorer,
)
from portico_security.install.domain.approvals import Step
from portico_security.install.domain.audit import AuditRecord
from portico_security.install.domain.policy import (
    ApprovalRule,
    DeadlineAction,
    InstallPolicy,
    Severity,
)
from portico_security.install.domain.requests import InstallRequest, InstallStatus
from portico_security.install.entrypoints.scheduler import make_approval_scheduler
from portico_security.trust.adapters.postgres import TrustPgUnitOfWork
from portico_security.trust.app.scoring import PackageSignalsSource
from portico_security.verification.app.commands import VerifyArtifact
from portico_security.verification.app.provenance import ProvenanceVerification
from portico_security.verification.domain.registry_signatures import RegistryKeys
from portico_security.verification.errors import InvalidRequestError

# How often pending approvals are checked against their deadlines.
APPROVAL_TICK_SECONDS = 1.0

_STATUS = {
    InstallStatus.REJECTED: pb.INSTALL_STATUS_REJECTED,
    InstallStatus.PENDING_APPROVAL: pb.INSTALL_STATUS_PENDING_APPROVAL,
    InstallStatus.APPROVED: pb.INSTALL_STATUS_APPROVED,
    InstallStatus.EXPIRED: pb.INSTALL_STATUS_EXPIRED,
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


def _ts(at: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp


def policy_from_proto(tenant_id: str, policy: pb.InstallPolicy) -> InstallPolicy:
    """The domain policy; its own checks reject out-of-range values."""
    try:
        severities = tuple(Severity(s.upper()) for s in policy.blocked_severities)
    except ValueError as exc:
        raise InvalidRequestError("blocked_severities", str(exc)) from None
    action = _DEADLINE_TO_DOMAIN.get(policy.approval.on_deadline)
    if action is None:
        raise InvalidRequestError("approval.on_deadline", "unknown deadline action")
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


def request_to_proto(request: InstallRequest) -> pb.InstallRequest:
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
        created_at=_ts(request.created_at),
        history=[
            pb.InstallHistoryEntry(at=_ts(h.at), kind=h.kind, actor=h.actor, detail=h.detail)
            for h in request.history
        ],
    )
    if request.approval is not None:
        approval = request.approval
        message.approval.CopyFrom(
            pb.ApprovalStatus(
                required=approval.rule.required,
                eligible_roles=approval.eligible_roles,
                deadline=_ts(approval.deadline),
                escalated=approval.escalated,
                approvers=approval.approvers,
                votes=[
                    pb.ApprovalVote(
                        approver=v.approver,
                        role=v.role,
                        approve=v.approve,
                        comment=v.comment,
                        at=_ts(v.at),
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
        at=_ts(entry.at),
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        reason=entry.reason,
        evidence_digest=entry.evidence_digest,
        prev_hash=record.prev_hash,
        hash=record.hash,
    )


def _actor(named: str) -> str:
    """Who acts: the named person, beside the authenticated caller when there is a token.

    With no name the token's subject acts; with neither the use case refuses the request.
    """
    claims = current_claims.get()
    subject = claims.subject if claims is not None else ""
    if not named or subject in ("", named):
        return named or subject
    return f"{named} (via {subject})"


class InstallServicer(pb_grpc.InstallServiceServicer):
    def __init__(
        self,
        uow: InstallUnitOfWorkFactory,
        *,
        trust: TrustScorer,
        advisories: AdvisoryMatcher,
        max_artifact_bytes: int,
        registry_keys: RegistryKeys | None = None,
        provenance: ProvenanceVerification | None = None,
    ) -> None:
        self._uow = uow
        self._provenance = provenance
        self._trust = trust
        self._advisories = advisories
        self._max_artifact_bytes = max_artifact_bytes
        self._registry_keys = registry_keys

    async def InstallSecure(
        self, request: pb.InstallSecureRequest, context: Context
    ) -> pb.InstallSecureResponse:
        result = await use_cases.install_secure(
            self._uow,
            use_cases.InstallSecure(
                artifact=VerifyArtifact(
                    tenant_id=request.tenant_id,
                    plugin=request.plugin,
                    version=request.version,
                    tarball=request.tarball,
                    integrity=request.integrity,
                    signature=request.signature,
                    key_id=request.key_id,
                    attestations=request.attestations_json,
                ),
                requested_by=_actor(request.requested_by),
                dependencies=tuple(request.dependencies),
                rollout_phases=tuple(request.rollout_phases),
                rollout_bake_seconds=request.rollout_bake_seconds,
            ),
            trust=self._trust,
            advisories=self._advisories,
            max_size=self._max_artifact_bytes,
            registry_keys=self._registry_keys,
            provenance=self._provenance,
        )
        return pb.InstallSecureResponse(
            request=request_to_proto(result.request),
            checks=[
                pb.InstallCheck(name=c.name, passed=c.passed, detail=c.detail)
                for c in result.verification.report.checks
            ],
        )

    async def SetInstallPolicy(
        self, request: pb.SetInstallPolicyRequest, context: Context
    ) -> pb.SetInstallPolicyResponse:
        policy = await use_cases.set_policy(
            self._uow,
            policy_from_proto(request.tenant_id, request.policy),
            actor=_actor(request.actor),
            reason=request.reason,
        )
        return pb.SetInstallPolicyResponse(policy=policy_to_proto(policy))

    async def GetInstallPolicy(
        self, request: pb.GetInstallPolicyRequest, context: Context
    ) -> pb.GetInstallPolicyResponse:
        policy = await use_cases.get_policy(self._uow, request.tenant_id)
        return pb.GetInstallPolicyResponse(policy=policy_to_proto(policy))

    async def Approve(self, request: pb.ApproveRequest, context: Context) -> pb.ApproveResponse:
        result = await approvals.approve(self._uow, self._decide(request))
        return pb.ApproveResponse(
            request=request_to_proto(result.request),
            counted=result.step is not Step.DUPLICATE,
        )

    async def Reject(self, request: pb.RejectRequest, context: Context) -> pb.RejectResponse:
        result = await approvals.reject(self._uow, self._decide(request))
        return pb.RejectResponse(request=request_to_proto(result.request))

    async def GetInstallRequest(
        self, request: pb.GetInstallRequestRequest, context: Context
    ) -> pb.GetInstallRequestResponse:
        found = await approvals.get_request(self._uow, request.tenant_id, request.request_id)
        return pb.GetInstallRequestResponse(request=request_to_proto(found))

    async def ListAuditRecords(
        self, request: pb.ListAuditRecordsRequest, context: Context
    ) -> pb.ListAuditRecordsResponse:
        limit = request.limit or 100
        if request.subject:
            # A subject's records skip the others', so their links cannot be checked.
            records = await approvals.list_audit(
                self._uow,
                request.tenant_id,
                subject=request.subject,
                after=request.after_sequence,
                limit=limit,
            )
            problems: list[str] = []
        else:
            records, problems = await approvals.audit_page(
                self._uow, request.tenant_id, after=request.after_sequence, limit=limit
            )
        return pb.ListAuditRecordsResponse(
            records=[record_to_proto(r) for r in records], chain_problems=problems
        )

    @staticmethod
    def _decide(request: pb.ApproveRequest | pb.RejectRequest) -> approvals.Decide:
        claims = current_claims.get()
        if claims is None:
            # No token verification (no PORTICO_AUTH_TARGET): the stated approver and
            # role are trusted as given. Unsafe for production; see the README.
            return approvals.Decide(
                tenant_id=request.tenant_id,
                request_id=request.request_id,
                approver=_actor(request.approver),
                role=request.role,
                comment=request.comment,
            )
        # With a verified token, who decides is the token's subject and the role must
        # be one of the token's roles; a stated approver name is not trusted.
        return approvals.Decide(
            tenant_id=request.tenant_id,
            request_id=request.request_id,
            approver=claims.subject,
            role=request.role,
            comment=request.comment,
            verified_roles=claims.roles,
        )


def install_service(
    rt: Runtime,
    *,
    signals: PackageSignalsSource,
    max_artifact_bytes: int,
    registry_keys: RegistryKeys | None,
    provenance: ProvenanceVerification | None = None,
    tick_seconds: float = APPROVAL_TICK_SECONDS,
) -> tuple[Callable[[grpc.aio.Server], Iterable[str]], Background]:
    """InstallService's registration and the approval-deadline loop, for bootstrap to serve."""
    uow = uow_factory(
        rt.db, lambda conn, tenant: InstallPgUnitOfWork(conn, tenant_id=tenant, clock=rt.clock)
    )
    trust_uow = uow_factory(
        rt.db, lambda conn, tenant: TrustPgUnitOfWork(conn, tenant_id=tenant, clock=rt.clock)
    )
    servicer = InstallServicer(
        uow,
        trust=FiveFactorTrustScorer(trust_uow, signals),
        advisories=OsvAdvisoryMatcher(trust_uow),
        max_artifact_bytes=max_artifact_bytes,
        registry_keys=registry_keys,
        provenance=provenance,
    )

    def register(server: grpc.aio.Server) -> Iterable[str]:
        pb_grpc.add_InstallServiceServicer_to_server(servicer, server)
        return [pb.DESCRIPTOR.services_by_name["InstallService"].full_name]

    return register, make_approval_scheduler(uow, rt.clock, tick_seconds=tick_seconds)
