"""gRPC entrypoint of secure install, approvals and the audit trail: map, call, map back."""

from __future__ import annotations

from portico.security.v1 import install_pb2 as pb
from portico.security.v1 import install_pb2_grpc as pb_grpc
from portico_common.authz.policy import RolePolicy, default_policy
from portico_common.grpc.interceptor import Context
from portico_common.grpc.tokens import current_claims
from portico_security.install.app import approvals, audit
from portico_security.install.app import install as use_cases
from portico_security.install.app.ports import (
    AdvisoryMatcher,
    ArtifactVerifier,
    DeclaredResourcesSource,
    InstallUowFactory,
    QuotaGate,
    TrustScorer,
)
from portico_security.install.app.uninstall import uninstall
from portico_security.install.domain.approvals import Step
from portico_security.install.entrypoints.mapping import (
    policy_from_proto,
    policy_to_proto,
    record_to_proto,
    request_to_proto,
)
from portico_security.verification.app.commands import VerifyArtifact


def _actor(named: str) -> str:
    """Who acts: the named person, beside the authenticated caller when there is a token.

    With no name the token's subject acts; with neither the use case refuses the request.
    """
    claims = current_claims.get()
    subject = claims.subject if claims is not None else ""
    if not named or subject in ("", named):
        return named or subject
    return f"{named} (via {subject})"


# Who reads reviewers' private notes: whoever may approve installs.
REVIEWER_PERMISSION = "installs.approve"


def _reviewer(policy: RolePolicy) -> bool:
    """Whether the caller may read private notes.

    Without token verification every caller is trusted as stated (unsafe for
    production, as for approvals); with it, the token's roles must grant
    installs.approve.
    """
    claims = current_claims.get()
    if claims is None:
        return True
    return policy.allows(claims.roles, REVIEWER_PERMISSION, claims.scopes)


class InstallServicer(pb_grpc.InstallServiceServicer):
    def __init__(
        self,
        uow: InstallUowFactory,
        *,
        verifier: ArtifactVerifier,
        trust: TrustScorer,
        advisories: AdvisoryMatcher,
        quota: QuotaGate | None = None,
        policy: RolePolicy | None = None,
        resources: DeclaredResourcesSource | None = None,
    ) -> None:
        self._uow = uow
        self._policy = policy or default_policy()
        self._verifier = verifier
        self._trust = trust
        self._advisories = advisories
        self._quota = quota
        self._resources = resources

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
            verifier=self._verifier,
            trust=self._trust,
            advisories=self._advisories,
            quota=self._quota,
            resources=self._resources,
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
            request=request_to_proto(result.request, private_notes=_reviewer(self._policy)),
            counted=result.step is not Step.DUPLICATE,
        )

    async def Reject(self, request: pb.RejectRequest, context: Context) -> pb.RejectResponse:
        result = await approvals.reject(self._uow, self._decide(request))
        return pb.RejectResponse(
            request=request_to_proto(result.request, private_notes=_reviewer(self._policy))
        )

    async def Uninstall(
        self, request: pb.UninstallRequest, context: Context
    ) -> pb.UninstallResponse:
        gone = await uninstall(
            self._uow,
            request.tenant_id,
            request.plugin,
            actor=_actor(request.requested_by),
            reason=request.reason,
        )
        return pb.UninstallResponse(requests=[request_to_proto(r) for r in gone])

    async def GetInstallRequest(
        self, request: pb.GetInstallRequestRequest, context: Context
    ) -> pb.GetInstallRequestResponse:
        found = await approvals.get_request(self._uow, request.tenant_id, request.request_id)
        return pb.GetInstallRequestResponse(
            request=request_to_proto(found, private_notes=_reviewer(self._policy))
        )

    async def ListAuditRecords(
        self, request: pb.ListAuditRecordsRequest, context: Context
    ) -> pb.ListAuditRecordsResponse:
        limit = request.limit or 100
        if request.subject:
            # A subject's records skip the others', so their links cannot be checked.
            records = await audit.list_audit(
                self._uow,
                request.tenant_id,
                subject=request.subject,
                after=request.after_sequence,
                limit=limit,
            )
            problems: list[str] = []
        else:
            records, problems = await audit.audit_page(
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
                private_note=request.private_note,
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
            private_note=request.private_note,
        )
