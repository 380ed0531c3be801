"""gRPC entrypoint of quota reservations: map the request, call the use case, map back."""

from __future__ import annotations

from portico.tenancy.v1 import quotas_pb2 as pb
from portico.tenancy.v1 import quotas_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_common.timestamps import optional_timestamp, to_timestamp
from portico_tenancy.app import reservations
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.domain.reservations import (
    Amounts,
    Reservation,
    ReservationKind,
    ReservationState,
)
from portico_tenancy.errors import InvalidReservationError

KIND_FROM_PROTO: dict[pb.ReservationKind.ValueType, ReservationKind] = {
    pb.RESERVATION_KIND_INSTALL: ReservationKind.INSTALL,
    pb.RESERVATION_KIND_ROLLOUT: ReservationKind.ROLLOUT,
}
KIND_TO_PROTO = {kind: value for value, kind in KIND_FROM_PROTO.items()}
STATE_TO_PROTO: dict[ReservationState, pb.ReservationState.ValueType] = {
    ReservationState.HELD: pb.RESERVATION_STATE_HELD,
    ReservationState.IN_USE: pb.RESERVATION_STATE_IN_USE,
    ReservationState.RELEASED: pb.RESERVATION_STATE_RELEASED,
}


def reservation_to_proto(r: Reservation) -> pb.Reservation:
    return pb.Reservation(
        tenant_id=r.tenant_id,
        reservation_id=r.reservation_id,
        kind=KIND_TO_PROTO[r.kind],
        plugin=r.plugin,
        version=r.version,
        amounts=pb.ReservedAmounts(
            plugins=r.amounts.plugins,
            rollouts=r.amounts.rollouts,
            cpu_millicores=r.amounts.cpu_millicores,
            memory_mib=r.amounts.memory_mib,
        ),
        state=STATE_TO_PROTO[r.state],
        reason=r.reason,
        created_at=to_timestamp(r.created_at),
        updated_at=to_timestamp(r.updated_at),
        confirmed_at=optional_timestamp(r.confirmed_at),
    )


class QuotaReservationServicer(pb_grpc.QuotaReservationServiceServicer):
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def Reserve(self, request: pb.ReserveRequest, context: Context) -> pb.ReserveResponse:
        kind = KIND_FROM_PROTO.get(request.kind)
        if kind is None:
            raise InvalidReservationError("kind must be RESERVATION_KIND_INSTALL or _ROLLOUT")
        a = request.amounts
        claim = reservations.Claim(
            reservation_id=request.reservation_id,
            kind=kind,
            amounts=Amounts(a.plugins, a.rollouts, a.cpu_millicores, a.memory_mib),
            plugin=request.plugin,
            version=request.version,
        )
        reservation = await reservations.reserve(self._uow, request.tenant_id, claim)
        return pb.ReserveResponse(reservation=reservation_to_proto(reservation))

    async def Release(self, request: pb.ReleaseRequest, context: Context) -> pb.ReleaseResponse:
        reservation = await reservations.release(
            self._uow, request.tenant_id, request.reservation_id, request.reason or "released"
        )
        return pb.ReleaseResponse(reservation=reservation_to_proto(reservation))
