"""In-memory adapter of the reservation port, keeping the PostgreSQL one's promises."""

from __future__ import annotations

from datetime import datetime

from portico_common.memory_uow import TenantScope
from portico_tenancy.domain.reservations import Reservation, ReservationKind, ReservationState
from portico_tenancy.domain.tenant import Tenant


class MemoryReservationRepository:
    """(tenant, reservation id) -> reservation; a reservation needs its tenant."""

    def __init__(
        self,
        rows: dict[tuple[str, str], Reservation],
        tenants: dict[str, Tenant],
        scope: TenantScope,
    ) -> None:
        self._rows = rows
        self._tenants = tenants
        self._scope = scope

    async def get(self, tenant_id: str, reservation_id: str) -> Reservation | None:
        if not self._scope.sees(tenant_id):
            return None
        return self._rows.get((tenant_id, reservation_id))

    async def add(self, reservation: Reservation) -> None:
        key = (reservation.tenant_id, reservation.reservation_id)
        self._scope.check_write(reservation.tenant_id)
        if reservation.tenant_id not in self._tenants:
            raise LookupError(f"no tenant {reservation.tenant_id!r} (foreign key)")
        if key in self._rows:
            raise LookupError(f"reservation {key} exists (primary key)")
        self._rows[key] = reservation

    async def save(self, reservation: Reservation) -> None:
        key = (reservation.tenant_id, reservation.reservation_id)
        self._scope.check_write(reservation.tenant_id)
        if key not in self._rows:
            raise LookupError(f"no reservation {key} to update")
        self._rows[key] = reservation

    async def live(
        self,
        tenant_id: str,
        *,
        kind: ReservationKind | None = None,
        plugin: str | None = None,
        version: str | None = None,
    ) -> list[Reservation]:
        if not self._scope.sees(tenant_id):
            return []
        found = [
            r
            for (tenant, _), r in self._rows.items()
            if tenant == tenant_id
            and r.state is not ReservationState.RELEASED
            and (kind is None or r.kind is kind)
            and (plugin is None or r.plugin == plugin)
            and (version is None or r.version == version)
        ]
        return sorted(found, key=lambda r: (r.created_at, r.reservation_id))

    async def delete(self, tenant_id: str) -> None:
        self._scope.check_write(tenant_id)
        for key in [k for k in self._rows if k[0] == tenant_id]:
            del self._rows[key]

    async def tenants_with_unconfirmed(self, created_before: datetime, limit: int) -> list[str]:
        oldest: dict[str, datetime] = {}
        for (tenant, _), r in self._rows.items():
            if self._scope.sees(tenant) and _unconfirmed(r, created_before):
                oldest[tenant] = min(oldest.get(tenant, r.created_at), r.created_at)
        return sorted(oldest, key=lambda tenant: oldest[tenant])[:limit]

    async def unconfirmed(
        self, tenant_id: str, created_before: datetime, limit: int
    ) -> list[Reservation]:
        if not self._scope.sees(tenant_id):
            return []
        found = [
            r
            for (tenant, _), r in self._rows.items()
            if tenant == tenant_id and _unconfirmed(r, created_before)
        ]
        return sorted(found, key=lambda r: (r.created_at, r.reservation_id))[:limit]


def _unconfirmed(r: Reservation, created_before: datetime) -> bool:
    return (
        r.state is ReservationState.HELD
        and r.confirmed_at is None
        and r.created_at <= created_before
    )
