"""gRPC entrypoint of rollout: map the request, call the use case, map back.

Errors are not caught here: each belongs to a kernel category whose `code`
the kernel's interceptor turns into the gRPC status.
"""

from __future__ import annotations

from portico.rollout.v1 import rollout_pb2 as pb
from portico.rollout.v1 import rollout_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_common.timestamps import optional_timestamp, to_timestamp
from portico_rollout.app import handlers
from portico_rollout.app.assignments import AssignmentLookup, resolve_version
from portico_rollout.app.ports import UnitOfWorkFactory
from portico_rollout.domain.rollout import Rollout


def to_proto(rollout: Rollout) -> pb.Rollout:
    return pb.Rollout(
        rollout_id=rollout.rollout_id,
        tenant_id=rollout.tenant_id,
        plugin=rollout.plugin,
        version=rollout.version,
        stable_version=rollout.stable_version,
        state=pb.RolloutState.Value(f"ROLLOUT_STATE_{rollout.state.value}"),
        phases=list(rollout.phases),
        phase_index=rollout.phase_index,
        percent=rollout.percent,
        bake_seconds=rollout.bake_seconds,
        security_passed=bool(rollout.security_passed),
        compat_passed=bool(rollout.compat_passed),
        reason=rollout.reason,
        created_at=to_timestamp(rollout.created_at),
        phase_started_at=optional_timestamp(rollout.phase_started_at),
        history=[
            pb.RolloutEvent(at=to_timestamp(entry.at), kind=entry.kind, detail=entry.detail)
            for entry in rollout.history
        ],
    )


class RolloutServicer(pb_grpc.RolloutServiceServicer):
    def __init__(
        self, uow: UnitOfWorkFactory, view: AssignmentLookup, *, default_bake_seconds: int
    ) -> None:
        self._uow = uow
        # ResolveVersion answers from memory: no database on the request path.
        self._view = view
        self._default_bake = default_bake_seconds

    async def RequestRollout(
        self, request: pb.RequestRolloutRequest, context: Context
    ) -> pb.RequestRolloutResponse:
        rollout = await handlers.request_rollout(
            self._uow,
            request.tenant_id,
            request.plugin,
            request.version,
            phases=list(request.phases),
            bake_seconds=request.bake_seconds,
            default_bake_seconds=self._default_bake,
        )
        return pb.RequestRolloutResponse(rollout=to_proto(rollout))

    async def GetRollout(
        self, request: pb.GetRolloutRequest, context: Context
    ) -> pb.GetRolloutResponse:
        rollout = await handlers.get_rollout(self._uow, request.tenant_id, request.rollout_id)
        return pb.GetRolloutResponse(rollout=to_proto(rollout))

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
