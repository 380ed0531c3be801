"""The scheduled job that ends grace periods: the deletion saga's first step.

Every `interval`, by the Clock, it asks the services to delete the data of
each tenant whose grace period ended (tenant.deletion_requested), and, when
tenants are provisioned, enqueues the removal of its namespace. Replicas
share the work: each takes rows the others do not hold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from portico_tenancy.app.lifecycle import request_due_deletions
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.domain.jobs import JobSpec
from portico_tenancy.entrypoints.periodic import PeriodicPass


class DeletionScheduler(PeriodicPass):
    """A background loop of `serve`; `tick` is one pass (tests call it with a ManualClock)."""

    failure = "requesting due tenant deletions failed"

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        services: Sequence[str],
        interval: timedelta,
        *,
        teardown: Callable[[str], JobSpec] | None = None,
    ) -> None:
        super().__init__("tenant-deletions", interval)
        self._uow = uow
        self._services = tuple(services)
        # The job that removes a provisioned tenant's namespace; None: nothing is provisioned.
        self._teardown = teardown

    async def tick(self) -> int:
        """Requests every due deletion; how many."""
        return len(await request_due_deletions(self._uow, self._services, teardown=self._teardown))
