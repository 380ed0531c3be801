"""The scheduled sweep that expires quota holds their owners never confirmed.

Every `interval` it releases, in batches of `batch`, the holds older than the
hold time to live (by the service's Clock) whose install request or rollout
was never recorded, announcing each as tenant.reservation.expired. A full
batch is followed at once by the next, so a backlog drains in one pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.app.reservations import expire_unconfirmed

log = logging.getLogger(__name__)


class HoldSweeper:
    """A background loop of `serve`; `tick` is one pass (tests call it with a ManualClock)."""

    def __init__(
        self, uow: UnitOfWorkFactory, ttl: timedelta, interval: timedelta, *, batch: int = 500
    ) -> None:
        self._uow = uow
        self._ttl = ttl
        self._interval = interval.total_seconds()
        self._batch = batch
        self.__name__ = "reservation-holds"

    async def tick(self) -> int:
        """Expires every hold due now, batch after batch; how many."""
        total = 0
        while True:
            expired = len(await expire_unconfirmed(self._uow, self._ttl, limit=self._batch))
            total += expired
            if expired < self._batch:
                return total

    async def __call__(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                # The next pass retries; a database outage must not end the loop.
                log.exception("expiring unconfirmed quota holds failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)
