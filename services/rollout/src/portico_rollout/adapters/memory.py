"""In-memory adapters of the rollout ports, for unit tests and the shared contract suite.

Built on the kernel's in-memory unit of work, they behave like the PostgreSQL
ones where it matters: a unit of work sees only its tenant's rows (or all,
for ALL_TENANTS), its writes and events land only if it exits cleanly, a
stale save raises RolloutConflictError, and the "one unfinished rollout per
plugin" rule holds.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime

from portico_common import memory_uow
from portico_common.clock import Clock
from portico_common.memory_uow import TenantScope
from portico_rollout.adapters.memory_records import (
    MemoryAuditRepository,
    MemoryDecisionRepository,
)
from portico_rollout.adapters.messages import to_message
from portico_rollout.app.ports import UnitOfWorkFactory
from portico_rollout.domain.audit import AuditRecord
from portico_rollout.domain.decisions import Decision
from portico_rollout.domain.events import RolloutEvent
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.saga import SagaStep, StepState
from portico_rollout.domain.state import RolloutState
from portico_rollout.domain.verdicts import CheckVerdict
from portico_rollout.errors import RolloutConflictError


@dataclass
class MemoryState:
    """Every table, as plain containers."""

    rollouts: dict[str, Rollout] = field(default_factory=dict)
    verdicts: list[CheckVerdict] = field(default_factory=list)
    # (tenant, plugin) -> (version, rollout id, since)
    stable: dict[tuple[str, str], tuple[str, str, datetime]] = field(default_factory=dict)
    steps: dict[tuple[str, str], SagaStep] = field(default_factory=dict)
    # tenant -> the state that paused its rollouts
    paused: dict[str, str] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)
    # rollout id -> the time the scheduler put it off until (cleared by a save)
    deferred: dict[str, datetime] = field(default_factory=dict)


class MemoryUnitOfWork(memory_uow.MemoryUnitOfWork[MemoryState]):
    """One in-memory transaction with rollout's repositories."""

    def __init__(self, state: MemoryState, tenant_id: str, clock: Clock) -> None:
        super().__init__(state, tenant_id, clock)
        self.rollouts = MemoryRolloutRepository(state, self)
        self.verdicts = MemoryVerdictRepository(state, self)
        self.stable_versions = MemoryStableVersionRepository(state, self)
        self.rollback_steps = MemoryRollbackStepRepository(state, self)
        self.paused_tenants = MemoryPausedTenantRepository(state, self)
        self.decisions = MemoryDecisionRepository(state, self)
        self.audit = MemoryAuditRepository(state, self)

    async def publish(self, events: Sequence[RolloutEvent]) -> None:
        for event in events:
            await self.emit(to_message(event), subject=event.subject)


class MemoryStore(memory_uow.MemoryStore[MemoryState, MemoryUnitOfWork]):
    """Rollout's committed tables and the events that committed with them."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(
            MemoryState(),
            lambda state, tenant: MemoryUnitOfWork(state, tenant, clock),
            # Insert-only tables, or rows replaced whole (frozen dataclasses).
            frozen_rows=("verdicts", "stable", "steps", "decisions", "audit"),
        )
        self.clock = clock

    def uow_factory(self) -> UnitOfWorkFactory:
        return self.open

    def consumer_uow(
        self,
    ) -> Callable[[object, str], AbstractAsyncContextManager[MemoryUnitOfWork]]:
        """The unit of work an event handler runs in.

        An event consumer hands its handler the transaction that holds the
        inbox row; in memory there is none to share, so each delivery gets
        its own unit of work, committed when the handler returns.
        """

        def within(_conn: object, tenant_id: str) -> AbstractAsyncContextManager[MemoryUnitOfWork]:
            return self.open(tenant_id)

        return within


class _Scoped:
    def __init__(self, state: MemoryState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    def _visible(self, tenant_id: str) -> bool:
        return self._scope.sees(tenant_id)

    def _check_write(self, tenant_id: str) -> None:
        self._scope.check_write(tenant_id)


class MemoryRolloutRepository(_Scoped):
    async def lock_plugin(self, tenant_id: str, plugin: str) -> None:
        """Nothing to do: in-memory units of work never overlap."""

    async def add(self, rollout: Rollout) -> bool:
        self._check_write(rollout.tenant_id)
        if rollout.rollout_id in self._state.rollouts:
            return False
        # The partial unique index: one unfinished rollout per (tenant, plugin).
        if not rollout.state.is_terminal and any(
            (r.tenant_id, r.plugin) == (rollout.tenant_id, rollout.plugin)
            and not r.state.is_terminal
            for r in self._state.rollouts.values()
        ):
            return False
        self._state.rollouts[rollout.rollout_id] = copy.deepcopy(rollout)
        return True

    async def get(self, tenant_id: str, rollout_id: str) -> Rollout | None:
        found = self._state.rollouts.get(rollout_id)
        if found is None or found.tenant_id != tenant_id or not self._visible(tenant_id):
            return None
        return copy.deepcopy(found)

    async def active_for(
        self,
        tenant_id: str,
        plugin: str,
        *,
        lock: bool = False,  # noqa: ARG002 - one transaction at a time: nothing to lock against
    ) -> Rollout | None:
        for rollout in self._state.rollouts.values():
            if (
                (rollout.tenant_id, rollout.plugin) == (tenant_id, plugin)
                and self._visible(tenant_id)
                and not rollout.state.is_terminal
            ):
                return copy.deepcopy(rollout)
        return None

    async def save(self, rollout: Rollout) -> None:
        self._check_write(rollout.tenant_id)
        stored = self._state.rollouts.get(rollout.rollout_id)
        if stored is None or stored.revision != rollout.revision:
            raise RolloutConflictError(rollout.rollout_id, rollout.revision)
        rollout.revision += 1
        self._state.rollouts[rollout.rollout_id] = copy.deepcopy(rollout)
        self._state.deferred.pop(rollout.rollout_id, None)

    def _due_at(self, rollout: Rollout) -> datetime | None:
        at = rollout.due_at()
        deferred = self._state.deferred.get(rollout.rollout_id)
        return at if at is None or deferred is None else max(at, deferred)

    async def due(self, now: datetime, limit: int, per_tenant: int) -> list[tuple[str, str]]:
        due = [
            (at, r.tenant_id, r.rollout_id)
            for r in self._state.rollouts.values()
            if self._visible(r.tenant_id)
            and r.tenant_id not in self._state.paused
            and (at := self._due_at(r)) is not None
            and at <= now
        ]
        taken: dict[str, int] = {}
        found: list[tuple[str, str]] = []
        for _, tenant_id, rollout_id in sorted(due):
            if taken.get(tenant_id, 0) < per_tenant and len(found) < limit:
                taken[tenant_id] = taken.get(tenant_id, 0) + 1
                found.append((tenant_id, rollout_id))
        return found

    async def lock(self, tenant_id: str, rollout_id: str) -> Rollout | None:
        # One unit of work at a time: nobody else can hold it.
        return await self.get(tenant_id, rollout_id)

    async def defer(self, tenant_id: str, rollout_id: str, until: datetime) -> None:
        self._check_write(tenant_id)
        found = self._state.rollouts.get(rollout_id)
        if found is not None and found.tenant_id == tenant_id:
            self._state.deferred[rollout_id] = until

    async def page(
        self,
        tenant_id: str,
        *,
        plugin: str,
        states: Sequence[str],
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Rollout]:
        found = [
            r
            for r in self._state.rollouts.values()
            if r.tenant_id == tenant_id
            and self._visible(tenant_id)
            and (not plugin or r.plugin == plugin)
            and (not states or r.state.value in states)
            and (after is None or (r.created_at, r.rollout_id) < after)
        ]
        found.sort(key=lambda r: (r.created_at, r.rollout_id), reverse=True)
        return [copy.deepcopy(r) for r in found[:limit]]

    async def serving(self, tenant_id: str) -> list[tuple[str, str, str]]:
        if not self._visible(tenant_id):
            return []
        return sorted(
            (r.plugin, r.version, r.stable_version)
            for r in self._state.rollouts.values()
            if r.tenant_id == tenant_id
            and r.state in (RolloutState.IN_PROGRESS, RolloutState.PAUSED)
        )


class MemoryVerdictRepository(_Scoped):
    async def add(self, verdict: CheckVerdict) -> bool:
        self._check_write(verdict.tenant_id)
        if any(
            (v.tenant_id, v.event_id) == (verdict.tenant_id, verdict.event_id)
            for v in self._state.verdicts
        ):
            return False
        self._state.verdicts.append(verdict)
        return True

    async def for_version(self, tenant_id: str, plugin: str, version: str) -> list[CheckVerdict]:
        return [
            v
            for v in self._state.verdicts
            if (v.tenant_id, v.plugin, v.version) == (tenant_id, plugin, version)
            and self._visible(tenant_id)
        ]


class MemoryStableVersionRepository(_Scoped):
    async def get(self, tenant_id: str, plugin: str) -> str:
        if not self._visible(tenant_id):
            return ""
        found = self._state.stable.get((tenant_id, plugin))
        return found[0] if found else ""

    async def set(
        self, tenant_id: str, plugin: str, version: str, rollout_id: str, at: datetime
    ) -> None:
        self._check_write(tenant_id)
        self._state.stable[tenant_id, plugin] = (version, rollout_id, at)

    async def made_by(self, tenant_id: str, plugin: str) -> tuple[str, str] | None:
        found = self._state.stable.get((tenant_id, plugin))
        if found is None or not self._visible(tenant_id):
            return None
        return found[0], found[1]

    async def all(self, tenant_id: str) -> dict[str, str]:
        if not self._visible(tenant_id):
            return {}
        return {p: v[0] for (t, p), v in self._state.stable.items() if t == tenant_id}


class MemoryRollbackStepRepository(_Scoped):
    async def start(
        self, tenant_id: str, rollout_id: str, steps: Sequence[str], at: datetime
    ) -> list[SagaStep]:
        self._check_write(tenant_id)
        for ordinal, step in enumerate(steps):
            self._state.steps.setdefault(
                (rollout_id, step),
                SagaStep(tenant_id, rollout_id, step, ordinal, StepState.PENDING, "", at),
            )
        return await self.for_rollout(tenant_id, rollout_id)

    async def complete(
        self, tenant_id: str, rollout_id: str, step: str, detail: str, at: datetime
    ) -> None:
        self._check_write(tenant_id)
        current = self._state.steps[rollout_id, step]
        if current.state is not StepState.DONE:
            self._state.steps[rollout_id, step] = replace(
                current, state=StepState.DONE, detail=detail, at=at
            )

    async def for_rollout(self, tenant_id: str, rollout_id: str) -> list[SagaStep]:
        found = [
            s
            for (rid, _), s in self._state.steps.items()
            if rid == rollout_id and s.tenant_id == tenant_id and self._visible(tenant_id)
        ]
        return sorted(found, key=lambda s: s.ordinal)

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
        self._check_write(tenant_id)
        current = self._state.steps.get((rollout_id, step))
        if (
            current is None
            or current.tenant_id != tenant_id
            or current.state is not StepState.PENDING
            or current.failed_attempts != failed_attempts - 1
        ):
            return False
        self._state.steps[rollout_id, step] = replace(
            current,
            failed_attempts=failed_attempts,
            next_attempt_at=next_attempt_at,
            last_error=error,
        )
        return True

    async def due(self, now: datetime, limit: int, per_tenant: int) -> list[tuple[str, str]]:
        heads: dict[str, SagaStep] = {}
        for s in self._state.steps.values():
            if s.state is StepState.PENDING and self._visible(s.tenant_id):
                head = heads.get(s.rollout_id)
                if head is None or s.ordinal < head.ordinal:
                    heads[s.rollout_id] = s
        ready = sorted(
            (h for h in heads.values() if h.due(now)), key=lambda h: (h.ready_at, h.rollout_id)
        )
        rounds: dict[str, int] = {}
        ranked = []
        for h in ready:
            rounds[h.tenant_id] = rounds.get(h.tenant_id, 0) + 1
            if rounds[h.tenant_id] <= per_tenant:
                ranked.append((rounds[h.tenant_id], h.ready_at, h.tenant_id, h.rollout_id))
        return [(tenant, rollout) for _, _, tenant, rollout in sorted(ranked)[:limit]]


class MemoryPausedTenantRepository(_Scoped):
    async def pause(
        self,
        tenant_id: str,
        state: str,
        at: datetime,  # noqa: ARG002 - the port's; the memory store keeps no time
    ) -> None:
        self._check_write(tenant_id)
        self._state.paused[tenant_id] = state

    async def unpause(self, tenant_id: str) -> None:
        self._check_write(tenant_id)
        self._state.paused.pop(tenant_id, None)

    async def is_paused(self, tenant_id: str) -> bool:
        return self._visible(tenant_id) and tenant_id in self._state.paused
