"""The scheduled sweep that expires quota holds their owners never confirmed.

Every `interval` it releases, in batches of `batch`, the holds older than the
hold time to live (by the service's Clock) whose install request or rollout
was never recorded, announcing each as tenant.reservation.expired. A full
batch is followed at once by the next, so a backlog drains in one pass.
"""

from __future__ import annotations

from datetime import timedelta

from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.app.reservations import expire_unconfirmed
from portico_tenancy.entrypoints.periodic import PeriodicPass, drain


class HoldSweeper(PeriodicPass):
    """A background loop of `serve`; `tick` is one pass (tests call it with a ManualClock)."""

    failure = "expiring unconfirmed quota holds failed"

    def __init__(
        self, uow: UnitOfWorkFactory, ttl: timedelta, interval: timedelta, *, batch: int = 500
    ) -> None:
        super().__init__("reservation-holds", interval)
        self._uow = uow
        self._ttl = ttl
        self._batch = batch

    async def tick(self) -> int:
        """Expires every hold due now, batch after batch; how many."""
        return await drain(
            lambda limit: expire_unconfirmed(self._uow, self._ttl, limit=limit), self._batch
        )
