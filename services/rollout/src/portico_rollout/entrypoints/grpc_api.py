"""gRPC entrypoint of rollout: map the request, call the use case, map back.

Errors are not caught here: each belongs to a kernel category whose `code`
the kernel's interceptor turns into the gRPC status. The interceptor also
checks each RPC's permission and idempotency key; the caller's identity
(the token's subject and roles) is read from the claims it verified.
"""

from __future__ import annotations

from portico.rollout.v1 import rollout_pb2 as pb
from portico.rollout.v1 import rollout_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_common.grpc.tokens import current_claims
from portico_rollout.app import controls, handlers, queries, replay
from portico_rollout.app.assignments import AssignmentLookup, resolve_version
from portico_rollout.app.handlers import Defaults
from portico_rollout.app.ports import AdvisorySource, RolloutQuota, SloSource, UnitOfWorkFactory
from portico_rollout.domain.state import RolloutState
from portico_rollout.entrypoints import grpc_mapping as m
from portico_rollout.errors import InvalidRolloutError

# Kept for callers that map a rollout themselves.
to_proto = m.to_proto

_STATES = {pb.RolloutState.Value(f"ROLLOUT_STATE_{s.value}"): s for s in RolloutState}


def _actor() -> str:
    claims = current_claims.get()
    return claims.subject if claims is not None else ""


def _control(tenant_id: str, rollout_id: str, reason: str) -> controls.Control:
    return controls.Control(tenant_id, rollout_id, _actor(), reason)


class RolloutServicer(pb_grpc.RolloutServiceServicer):
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        slo: SloSource,
        defaults: Defaults,
        view: AssignmentLookup,
        *,
        quota: RolloutQuota | None = None,
        advisories: AdvisorySource | None = None,
    ) -> None:
        self._uow = uow
        # Room for one more concurrent rollout, reserved at tenancy; None: no quota.
        self._quota = quota
        self._slo = slo
        self._advisories = advisories
        self._defaults = defaults
        # ResolveVersion answers from memory: no database on the request path.
        self._view = view

    async def RequestRollout(
        self, request: pb.RequestRolloutRequest, context: Context
    ) -> pb.RequestRolloutResponse:
        rollout = await handlers.request_rollout(
            self._uow,
            self._slo,
            request.tenant_id,
            request.plugin,
            request.version,
            spec=m.spec_from_request(request),
            defaults=self._defaults,
            quota=self._quota,
            advisories=self._advisories,
        )
        return pb.RequestRolloutResponse(rollout=m.to_proto(rollout))

    async def GetRollout(
        self, request: pb.GetRolloutRequest, context: Context
    ) -> pb.GetRolloutResponse:
        view = await queries.view_rollout(self._uow, request.tenant_id, request.rollout_id)
        return pb.GetRolloutResponse(
            rollout=m.to_proto(view.rollout),
            health=m.health_to_proto(view.health),
            decisions=[m.decision_to_proto(d) for d in view.decisions],
        )

    async def ResolveVersion(
        self, request: pb.ResolveVersionRequest, context: Context
    ) -> pb.ResolveVersionResponse:
        answer = resolve_version(self._view, request.tenant_id, request.user_id, request.plugin)
        return pb.ResolveVersionResponse(
            version=answer.version,
            stable_version=answer.stable_version,
            rollout_id=answer.rollout_id,
            bucket=answer.bucket,
            in_canary=answer.in_canary,
            percent=answer.percent,
        )

    async def ListRollouts(
        self, request: pb.ListRolloutsRequest, context: Context
    ) -> pb.ListRolloutsResponse:
        states = []
        for state in request.states:
            if state not in _STATES:
                raise InvalidRolloutError("states", f"{state} is not a rollout state")
            states.append(_STATES[state])
        found, token = await queries.list_rollouts(
            self._uow,
            request.tenant_id,
            plugin=request.plugin,
            states=states,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListRolloutsResponse(
            rollouts=[m.to_proto(r) for r in found], next_page_token=token
        )

    async def UpdateRollout(
        self, request: pb.UpdateRolloutRequest, context: Context
    ) -> pb.UpdateRolloutResponse:
        control = _control(request.tenant_id, request.rollout_id, request.reason)
        action = request.action
        if action == pb.ROLLOUT_ACTION_PAUSE:
            rollout = await controls.pause(self._uow, control)
        elif action == pb.ROLLOUT_ACTION_RESUME:
            rollout = await controls.resume(self._uow, control)
        elif action in (pb.ROLLOUT_ACTION_PROMOTE, pb.ROLLOUT_ACTION_PROMOTE_FULL):
            full = action == pb.ROLLOUT_ACTION_PROMOTE_FULL
            rollout = await controls.promote(self._uow, control, full=full)
        elif action == pb.ROLLOUT_ACTION_ABORT:
            rollout = await controls.abort(self._uow, control)
        elif action == pb.ROLLOUT_ACTION_RETRY:
            rollout = await controls.retry(self._uow, self._slo, control, self._defaults)
        else:
            raise InvalidRolloutError(
                "action", "must be PAUSE, RESUME, PROMOTE, PROMOTE_FULL, ABORT or RETRY"
            )
        return pb.UpdateRolloutResponse(rollout=m.to_proto(rollout))

    async def PauseRollout(
        self, request: pb.PauseRolloutRequest, context: Context
    ) -> pb.PauseRolloutResponse:
        control = _control(request.tenant_id, request.rollout_id, request.reason)
        return pb.PauseRolloutResponse(rollout=m.to_proto(await controls.pause(self._uow, control)))

    async def ResumeRollout(
        self, request: pb.ResumeRolloutRequest, context: Context
    ) -> pb.ResumeRolloutResponse:
        control = _control(request.tenant_id, request.rollout_id, request.reason)
        return pb.ResumeRolloutResponse(
            rollout=m.to_proto(await controls.resume(self._uow, control))
        )

    async def PromoteRollout(
        self, request: pb.PromoteRolloutRequest, context: Context
    ) -> pb.PromoteRolloutResponse:
        control = _control(request.tenant_id, request.rollout_id, request.reason)
        rollout = await controls.promote(self._uow, control, full=request.full)
        return pb.PromoteRolloutResponse(rollout=m.to_proto(rollout))

    async def AbortRollout(
        self, request: pb.AbortRolloutRequest, context: Context
    ) -> pb.AbortRolloutResponse:
        control = _control(request.tenant_id, request.rollout_id, request.reason)
        return pb.AbortRolloutResponse(rollout=m.to_proto(await controls.abort(self._uow, control)))

    async def RetryRollout(
        self, request: pb.RetryRolloutRequest, context: Context
    ) -> pb.RetryRolloutResponse:
        control = _control(request.tenant_id, request.rollout_id, request.reason)
        rollout = await controls.retry(self._uow, self._slo, control, self._defaults)
        return pb.RetryRolloutResponse(rollout=m.to_proto(rollout))

    async def DecideRolloutApproval(
        self, request: pb.DecideRolloutApprovalRequest, context: Context
    ) -> pb.DecideRolloutApprovalResponse:
        claims = current_claims.get()
        vote = controls.GateVote(
            control=_control(request.tenant_id, request.rollout_id, request.comment),
            phase_index=request.phase_index,
            role=request.role,
            approve=request.approve,
            verified_roles=claims.roles if claims is not None else None,
        )
        rollout, step = await controls.decide_gate(self._uow, vote)
        return pb.DecideRolloutApprovalResponse(rollout=m.to_proto(rollout), step=step.value)

    async def ListRolloutDecisions(
        self, request: pb.ListRolloutDecisionsRequest, context: Context
    ) -> pb.ListRolloutDecisionsResponse:
        found, token = await queries.list_decisions(
            self._uow,
            request.tenant_id,
            request.rollout_id,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListRolloutDecisionsResponse(
            decisions=[m.decision_to_proto(d) for d in found], next_page_token=token
        )

    async def ReplayRollout(
        self, request: pb.ReplayRolloutRequest, context: Context
    ) -> pb.ReplayRolloutResponse:
        result = await replay.replay_rollout(
            self._uow,
            request.tenant_id,
            request.rollout_id,
            criteria=m.criteria_from_proto(request.criteria)
            if request.HasField("criteria")
            else None,
            phase_criteria={
                index: m.criteria_from_proto(c) for index, c in request.phase_criteria.items()
            },
            hold_timeout_seconds=request.hold_timeout_seconds,
        )
        return m.replay_to_proto(result)

    async def ListRolloutAudit(
        self, request: pb.ListRolloutAuditRequest, context: Context
    ) -> pb.ListRolloutAuditResponse:
        found, token = await queries.list_audit(
            self._uow,
            request.tenant_id,
            request.rollout_id,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListRolloutAuditResponse(
            records=[m.audit_to_proto(r) for r in found], next_page_token=token
        )
