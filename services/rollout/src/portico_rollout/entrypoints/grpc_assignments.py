"""gRPC entrypoint of the read path's stream: WatchAssignments (map, call the use case, map back).

A watch ends cleanly a little before the caller's deadline rather than with
DEADLINE_EXCEEDED: an SSE client behind the gateway (whose calls carry one)
then sees the stream end and reconnects, starting again from a snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from portico.rollout.v1 import assignments_pb2 as pb
from portico.rollout.v1 import assignments_pb2_grpc as pb_grpc
from portico.rollout.v1 import rollout_pb2
from portico_common.grpc.interceptor import Context
from portico_rollout.app.assignments import AssignmentLookup, watch_assignments
from portico_rollout.domain.assignment import Assignment

# The part of the caller's time left to end the stream in: at most a second.
_END_MARGIN_SECONDS = 1.0
_END_MARGIN_SHARE = 0.1


def assignment_to_proto(assignment: Assignment) -> pb.Assignment:
    state = (
        rollout_pb2.RolloutState.Value(f"ROLLOUT_STATE_{assignment.state.value}")
        if assignment.state is not None
        else rollout_pb2.ROLLOUT_STATE_UNSPECIFIED
    )
    return pb.Assignment(
        tenant_id=assignment.tenant_id,
        plugin=assignment.plugin,
        stable_version=assignment.stable_version,
        rollout_id=assignment.rollout_id,
        canary_version=assignment.canary_version,
        state=state,
        percent=assignment.percent,
    )


class AssignmentServicer(pb_grpc.AssignmentServiceServicer):
    def __init__(self, view: AssignmentLookup) -> None:
        self._view = view

    async def WatchAssignments(
        self, request: pb.WatchAssignmentsRequest, context: Context
    ) -> AsyncIterator[pb.WatchAssignmentsResponse]:
        ends = _ends_at(context.time_remaining())
        stream = watch_assignments(self._view, request.tenant_id, request.plugin)
        snapshot = True
        async with contextlib.aclosing(stream):
            while True:
                try:
                    async with asyncio.timeout_at(ends):
                        batch = await anext(stream)
                except (StopAsyncIteration, TimeoutError):
                    return
                yield pb.WatchAssignmentsResponse(
                    snapshot=snapshot, assignments=[assignment_to_proto(a) for a in batch]
                )
                snapshot = False


def _ends_at(remaining: float | None) -> float | None:
    """Event-loop time to end the stream by, or None when the caller set no deadline."""
    if remaining is None:
        return None
    margin = min(_END_MARGIN_SECONDS, remaining * _END_MARGIN_SHARE)
    return asyncio.get_running_loop().time() + max(0.0, remaining - margin)
