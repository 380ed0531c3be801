"""What the rollout use cases need from the outside world.

Repositories take the tenant explicitly even though row-level security
scopes the transaction: the WHERE clause states the intent, RLS guarantees it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from portico_common.clock import Clock
from portico_rollout.domain.events import RolloutEvent
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.saga import SagaStep
from portico_rollout.domain.verdicts import CheckVerdict


class RolloutRepository(Protocol):
    async def lock_plugin(self, tenant_id: str, plugin: str) -> None:
        """Serializes this transaction with others on the same plugin until it ends.

        A request and a verdict for one plugin racing in two transactions would
        each miss the other's uncommitted row, leaving a rollout waiting for a
        verdict that already came. Whoever takes the lock second sees the first.
        """

    async def add(self, rollout: Rollout) -> bool:
        """Stores a new rollout; False if its plugin already has one not finished."""

    async def get(self, tenant_id: str, rollout_id: str) -> Rollout | None: ...

    async def active_for(
        self, tenant_id: str, plugin: str, *, lock: bool = False
    ) -> Rollout | None:
        """The plugin's rollout that is not finished, if any; `lock` holds it to commit."""

    async def save(self, rollout: Rollout) -> None:
        """Writes the rollout if nobody changed it since it was loaded, and bumps its revision.

        Raises RolloutConflictError otherwise.
        """

    async def due(self, now: datetime, limit: int) -> list[Rollout]:
        """Rollouts in progress whose phase has baked by `now`, locked to this transaction.

        Rows another transaction holds are skipped, so replicas share the work;
        rollouts of a paused tenant are not due.
        """


class VerdictRepository(Protocol):
    async def add(self, verdict: CheckVerdict) -> bool:
        """Records a verdict; False if its event was recorded already."""

    async def for_version(self, tenant_id: str, plugin: str, version: str) -> list[CheckVerdict]:
        """Every verdict for the plugin version, in the order recorded."""


class StableVersionRepository(Protocol):
    async def get(self, tenant_id: str, plugin: str) -> str:
        """The version serving 100% of the tenant's users; "" if none."""

    async def set(
        self, tenant_id: str, plugin: str, version: str, rollout_id: str, at: datetime
    ) -> None: ...


class RollbackStepRepository(Protocol):
    async def start(
        self, tenant_id: str, rollout_id: str, steps: Sequence[str], at: datetime
    ) -> list[SagaStep]:
        """Adds the steps not yet recorded as pending; returns all of them in order."""

    async def complete(
        self, tenant_id: str, rollout_id: str, step: str, detail: str, at: datetime
    ) -> None: ...

    async def for_rollout(self, tenant_id: str, rollout_id: str) -> list[SagaStep]: ...


class PausedTenantRepository(Protocol):
    """Tenants whose rollouts the scheduler leaves where they are (suspended, deleting)."""

    async def pause(self, tenant_id: str, state: str, at: datetime) -> None: ...

    async def unpause(self, tenant_id: str) -> None: ...

    async def is_paused(self, tenant_id: str) -> bool: ...


class RolloutUnitOfWork(Protocol):
    """One transaction: repositories, the clock, and the outbox for its events."""

    # Read-only members, so any adapter implementing the ports fits.
    @property
    def tenant_id(self) -> str: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def rollouts(self) -> RolloutRepository: ...
    @property
    def verdicts(self) -> VerdictRepository: ...
    @property
    def stable_versions(self) -> StableVersionRepository: ...
    @property
    def rollback_steps(self) -> RollbackStepRepository: ...
    @property
    def paused_tenants(self) -> PausedTenantRepository: ...

    async def publish(self, events: Sequence[RolloutEvent]) -> None:
        """Queues the events to be published if, and only if, the transaction commits."""


UnitOfWorkFactory = Callable[[str], AbstractAsyncContextManager[RolloutUnitOfWork]]
