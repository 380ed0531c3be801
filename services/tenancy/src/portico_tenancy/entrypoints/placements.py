"""The loop that turns the placer's reports into the lifecycle: placed tenants become active.

The placer (`python -m portico_common.dbsetup place-pending`, privileged)
stamps a bridge or silo tenant's row once every service has its place; every
`interval` this activates those tenants (tenant.activated) that are also
provisioned. Tenancy thus never creates a schema or a database itself.
"""

from __future__ import annotations

from datetime import timedelta

from portico_tenancy.app.lifecycle import settle_placements
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.entrypoints.periodic import PeriodicPass, drain


class PlacementWatcher(PeriodicPass):
    """A background loop of `serve`; `tick` is one pass (tests call it)."""

    failure = "settling tenant placements failed"

    def __init__(self, uow: UnitOfWorkFactory, interval: timedelta, *, batch: int = 100) -> None:
        super().__init__("tenant-placements", interval)
        self._uow = uow
        self._batch = batch

    async def tick(self) -> int:
        """Settles every placed tenant, batch after batch; how many."""
        return await drain(lambda limit: settle_placements(self._uow, limit=limit), self._batch)
