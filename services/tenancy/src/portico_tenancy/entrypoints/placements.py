"""The loop that turns the placer's reports into the lifecycle: placed tenants become active.

The placer (`python -m portico_common.dbsetup place-pending`, privileged)
stamps a bridge or silo tenant's row once every service has its place; every
`interval` this activates those tenants (tenant.activated) that are also
provisioned. Tenancy thus never creates a schema or a database itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from portico_tenancy.app.lifecycle import settle_placements
from portico_tenancy.app.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)


class PlacementWatcher:
    """A background loop of `serve`; `tick` is one pass (tests call it)."""

    def __init__(self, uow: UnitOfWorkFactory, interval: timedelta, *, batch: int = 100) -> None:
        self._uow = uow
        self._interval = interval.total_seconds()
        self._batch = batch
        self.__name__ = "tenant-placements"

    async def tick(self) -> int:
        """Settles every placed tenant, batch after batch; how many."""
        total = 0
        while True:
            settled = len(await settle_placements(self._uow, limit=self._batch))
            total += settled
            if settled < self._batch:
                return total

    async def __call__(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                # The next pass retries; a database outage must not end the loop.
                log.exception("settling tenant placements failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)
