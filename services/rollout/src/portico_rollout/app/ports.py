"""What the rollout use cases need from the outside world.

Repositories take the tenant explicitly even though row-level security
scopes the transaction: the WHERE clause states the intent, RLS guarantees it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from portico_common.clock import Clock
from portico_rollout.domain.audit import AuditRecord
from portico_rollout.domain.decisions import Decision
from portico_rollout.domain.events import RolloutEvent
from portico_rollout.domain.evidence import VersionOutcomes
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.saga import DependentPlugin, SagaStep
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

    async def due(self, now: datetime, limit: int, per_tenant: int) -> list[tuple[str, str]]:
        """(tenant, rollout id) of rollouts in progress due by `now`, earliest first.

        At most `per_tenant` of one tenant, so a tenant with many due rollouts
        (or with rows that keep failing) cannot fill the batch. Nothing is locked.
        """

    async def lock(self, tenant_id: str, rollout_id: str) -> Rollout | None:
        """The rollout, locked to this transaction; None if absent or another holds it.

        Rows another transaction holds are skipped, so replicas share the work;
        rollouts of a paused tenant are not due.
        """

    async def defer(self, tenant_id: str, rollout_id: str, until: datetime) -> None:
        """Moves a due rollout's next check to `until` without reading the row.

        What the scheduler does with a row it could not process, so the row
        does not come back on every tick.
        """

    async def page(
        self,
        tenant_id: str,
        *,
        plugin: str,
        states: Sequence[str],
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Rollout]:
        """The tenant's rollouts by (created_at, rollout_id) descending, those after `after`.

        An empty `plugin` or `states` matches every one.
        """

    async def serving(self, tenant_id: str) -> list[tuple[str, str, str]]:
        """(plugin, version, stable version) of each rollout serving users (in progress or
        paused), by plugin: what the tenant runs, without reading whole rollouts."""


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

    async def all(self, tenant_id: str) -> dict[str, str]:
        """Every plugin of the tenant with a stable version, plugin -> version."""

    async def made_by(self, tenant_id: str, plugin: str) -> tuple[str, str] | None:
        """(stable version, the rollout that made it so); None when there is none."""


class RollbackStepRepository(Protocol):
    async def start(
        self, tenant_id: str, rollout_id: str, steps: Sequence[str], at: datetime
    ) -> list[SagaStep]:
        """Adds the steps not yet recorded as pending; returns all of them in order."""

    async def complete(
        self, tenant_id: str, rollout_id: str, step: str, detail: str, at: datetime
    ) -> None: ...

    async def for_rollout(self, tenant_id: str, rollout_id: str) -> list[SagaStep]: ...

    async def record_failure(
        self,
        tenant_id: str,
        rollout_id: str,
        step: str,
        *,
        failed_attempts: int,
        next_attempt_at: datetime,
        error: str,
    ) -> bool:
        """Records that an attempt at a pending step failed, and when to try it again.

        `failed_attempts` is the step's new count: written only if the stored
        one is one less (another replica recording the same failure writes
        nothing) and the step is still pending. False when nothing was written.
        """

    async def due(self, now: datetime, limit: int, per_tenant: int) -> list[tuple[str, str]]:
        """(tenant, rollout id) of sagas whose next step may run at `now`. Nothing is locked.

        A saga's next step is its first pending one; it is due if it never
        failed or its `next_attempt_at` has come. At most `per_tenant` sagas
        of one tenant and `limit` in all, taken in rounds (every tenant's
        first, then every tenant's second, ...), each round by the time its
        sagas became due (`next_attempt_at`, else the step's start), so
        neither a tenant with many sagas nor one whose sagas keep failing
        fills a pass or goes before another tenant's first saga.
        """


class PausedTenantRepository(Protocol):
    """Tenants whose rollouts the scheduler leaves where they are (suspended, deleting)."""

    async def pause(self, tenant_id: str, state: str, at: datetime) -> None: ...

    async def unpause(self, tenant_id: str) -> None: ...

    async def is_paused(self, tenant_id: str) -> bool: ...


class DecisionRepository(Protocol):
    async def add(self, decision: Decision) -> None:
        """Stores a decision with its evidence (its (rollout, seq) is unique)."""

    async def for_rollout(
        self, tenant_id: str, rollout_id: str, *, after_seq: int = 0, limit: int = 1000
    ) -> list[Decision]:
        """The rollout's decisions after `after_seq`, oldest first."""

    async def latest(self, tenant_id: str, rollout_id: str, limit: int) -> list[Decision]:
        """The rollout's newest decisions, newest first."""


class AuditRepository(Protocol):
    async def add(self, record: AuditRecord) -> None: ...

    async def page(
        self, tenant_id: str, rollout_id: str, *, after: int, limit: int
    ) -> list[AuditRecord]:
        """The tenant's records (of one rollout, or all if it is empty) after `after`, in order."""


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
    @property
    def decisions(self) -> DecisionRepository: ...
    @property
    def audit(self) -> AuditRepository: ...

    async def publish(self, events: Sequence[RolloutEvent]) -> None:
        """Queues the events to be published if, and only if, the transaction commits."""


UnitOfWorkFactory = Callable[[str], AbstractAsyncContextManager[RolloutUnitOfWork]]


class RolloutQuota(Protocol):
    """Room in the tenant's quota for one more concurrent rollout, reserved at tenancy.

    tenancy frees it from rollout's own rollout.completed, .refused and
    .rolled_back events; `release` is for a rollout that was never created.
    """

    async def reserve_rollout(
        self, tenant_id: str, rollout_id: str, plugin: str, version: str
    ) -> None:
        """Holds one rollout; RolloutQuotaExceededError when the tenant has none left."""

    async def release(self, tenant_id: str, rollout_id: str, reason: str) -> None: ...


@dataclass(frozen=True, slots=True)
class VersionSlo:
    """A version's SLO as slo judged it last (its clock): is it burning now?"""

    slo_id: str
    # When slo last judged it; None: not yet (it was just made).
    evaluated_at: datetime | None = None
    # Set while a tier fires: since when, and which tiers.
    violated_at: datetime | None = None
    firing: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OpenBreaker:
    """A circuit breaker of the version that permits no call now (open or forced open)."""

    breaker_id: str
    state: str
    since: datetime | None = None


class SloSource(Protocol):
    """The slo service, as rollout needs it: an SLO per version, its breakers, and the
    outcomes it counted.

    Called with rollout's own identity; outside any database transaction.
    """

    async def ensure_version_slo(
        self, tenant_id: str, plugin: str, version: str, template: str
    ) -> VersionSlo:
        """The version's SLO, made from `template` (or the tenant's default) if it has none."""

    async def open_breakers(
        self, tenant_id: str, plugin: str, version: str
    ) -> tuple[OpenBreaker, ...]:
        """The version's circuit breakers that are open (or forced open) now."""

    async def outcomes(
        self,
        tenant_id: str,
        plugin: str,
        versions: Sequence[str],
        *,
        start: datetime,
        end: datetime,
        step_seconds: int,
    ) -> list[VersionOutcomes]:
        """Each version's outcomes in [start, end), whole and per step, in the order asked."""


@dataclass(frozen=True, slots=True)
class InstalledPlugin:
    """A plugin as the tenant runs it, and the version a rollback would put back ("" none)."""

    plugin: str
    version: str
    previous_version: str = ""


@dataclass(frozen=True, slots=True)
class FoundDependents:
    """What the dependency graph answered: dependents in rollback order, and what it lacks."""

    dependents: tuple[DependentPlugin, ...]
    # Installed plugins the graph knows nothing of ("name version").
    unknown: tuple[str, ...] = ()


class DependencyGraph(Protocol):
    """compat's dependency graph, as the rollback saga needs it.

    Called with rollout's own identity; outside any database transaction.
    """

    async def dependents(
        self,
        tenant_id: str,
        going: InstalledPlugin,
        installed: Sequence[InstalledPlugin],
    ) -> FoundDependents:
        """The installed plugins that need `going` at its version, deepest first."""


class AdvisorySource(Protocol):
    """security's advisories, as rollout needs them: is a version known to be critically bad?

    Called with rollout's own identity; outside any database transaction.
    """

    async def critical(self, tenant_id: str, plugin: str, version: str) -> tuple[str, ...]:
        """The ids of the critical advisories affecting the plugin version (or none)."""
