"""PostgreSQL adapter of the reservation port (table tenant_reservations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portico_common.db import Connection
from portico_tenancy.domain.reservations import (
    Amounts,
    Reservation,
    ReservationKind,
    ReservationState,
)

_COLUMNS = """tenant_id, reservation_id, kind, plugin, version, plugins, rollouts,
              cpu_millicores, memory_mib, state, reason, created_at, updated_at,
              confirmed_at"""


class PgReservationRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def get(self, tenant_id: str, reservation_id: str) -> Reservation | None:
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM tenant_reservations"  # noqa: S608 - constant columns
            " WHERE tenant_id = $1 AND reservation_id = $2",
            tenant_id,
            reservation_id,
        )
        return None if row is None else _reservation(row)

    async def add(self, reservation: Reservation) -> None:
        r = reservation
        await self._conn.execute(
            f"INSERT INTO tenant_reservations ({_COLUMNS})"  # noqa: S608 - constant columns
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            r.tenant_id,
            r.reservation_id,
            r.kind.value,
            r.plugin,
            r.version,
            r.amounts.plugins,
            r.amounts.rollouts,
            r.amounts.cpu_millicores,
            r.amounts.memory_mib,
            r.state.value,
            r.reason,
            r.created_at,
            r.updated_at,
            r.confirmed_at,
        )

    async def save(self, reservation: Reservation) -> None:
        await self._conn.execute(
            """UPDATE tenant_reservations
                  SET state = $3, reason = $4, updated_at = $5, confirmed_at = $6
                WHERE tenant_id = $1 AND reservation_id = $2""",
            reservation.tenant_id,
            reservation.reservation_id,
            reservation.state.value,
            reservation.reason,
            reservation.updated_at,
            reservation.confirmed_at,
        )

    async def live(
        self,
        tenant_id: str,
        *,
        kind: ReservationKind | None = None,
        plugin: str | None = None,
        version: str | None = None,
    ) -> list[Reservation]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM tenant_reservations"  # noqa: S608 - constant columns
            """ WHERE tenant_id = $1 AND state <> 'released'
                  AND ($2::text IS NULL OR kind = $2)
                  AND ($3::text IS NULL OR plugin = $3)
                  AND ($4::text IS NULL OR version = $4)
                ORDER BY created_at, reservation_id""",
            tenant_id,
            None if kind is None else kind.value,
            plugin,
            version,
        )
        return [_reservation(row) for row in rows]

    async def delete(self, tenant_id: str) -> None:
        await self._conn.execute("DELETE FROM tenant_reservations WHERE tenant_id = $1", tenant_id)

    async def tenants_with_unconfirmed(self, created_before: datetime, limit: int) -> list[str]:
        rows = await self._conn.fetch(
            """SELECT tenant_id FROM tenant_reservations
                WHERE state = 'held' AND confirmed_at IS NULL AND created_at <= $1
                GROUP BY tenant_id ORDER BY min(created_at) LIMIT $2""",
            created_before,
            limit,
        )
        return [row["tenant_id"] for row in rows]

    async def unconfirmed(
        self, tenant_id: str, created_before: datetime, limit: int
    ) -> list[Reservation]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM tenant_reservations"  # noqa: S608 - constant columns
            """ WHERE tenant_id = $1 AND state = 'held' AND confirmed_at IS NULL
                  AND created_at <= $2
                ORDER BY created_at, reservation_id LIMIT $3""",
            tenant_id,
            created_before,
            limit,
        )
        return [_reservation(row) for row in rows]


def _reservation(row: Any) -> Reservation:
    return Reservation(
        tenant_id=row["tenant_id"],
        reservation_id=row["reservation_id"],
        kind=ReservationKind(row["kind"]),
        plugin=row["plugin"],
        version=row["version"],
        amounts=Amounts(row["plugins"], row["rollouts"], row["cpu_millicores"], row["memory_mib"]),
        state=ReservationState(row["state"]),
        reason=row["reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        confirmed_at=row["confirmed_at"],
    )
