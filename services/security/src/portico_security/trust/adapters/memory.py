"""In-memory adapters of the advisory and trust ports, on the kernel's in-memory unit of work.

They keep the promises the PostgreSQL ones keep (the contract suite runs
against both): writes land only when the unit of work exits cleanly, a
tenant sees only its own policies, verdicts and keys, and advisories are
read by everyone but written only by a platform (ALL_TENANTS) unit of work,
as the table's row-level security demands.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from portico_common.clock import Clock, SystemClock
from portico_common.memory_uow import (
    MemoryStore,
    MemoryUnitOfWork,
    RowLevelSecurityError,
    TenantScope,
)
from portico_common.tenants import ALL_TENANTS
from portico_security.trust.app.ports import TrustUowFactory
from portico_security.trust.domain.advisories import Advisory
from portico_security.trust.domain.policy import TrustPolicy, TrustVerdict
from portico_security.verification.domain.signatures import PublisherKey


@dataclass
class TrustState:
    """Every table the trust context reads or writes."""

    # Advisory id -> (advisory, imported at).
    advisories: dict[str, tuple[Advisory, datetime]] = field(default_factory=dict)
    policies: dict[str, TrustPolicy] = field(default_factory=dict)
    verdicts: dict[str, TrustVerdict] = field(default_factory=dict)
    # Registered publisher keys by (tenant, key id), as verification's registry holds them.
    keys: dict[tuple[str, str], PublisherKey] = field(default_factory=dict)


class MemoryAdvisoryRepository:
    def __init__(self, state: TrustState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def modified_of(self, ids: Collection[str]) -> dict[str, datetime]:
        stored = self._state.advisories
        return {i: stored[i][0].modified for i in ids if i in stored}

    async def save(self, advisories: Sequence[Advisory], imported_at: datetime) -> None:
        if self._scope.tenant_id != ALL_TENANTS:
            raise RowLevelSecurityError("advisories are written by platform transactions only")
        for advisory in advisories:
            self._state.advisories[advisory.id] = (advisory, imported_at)

    async def for_packages(self, names: Collection[str]) -> list[Advisory]:
        wanted = set(names)
        found = (a for a, _ in self._state.advisories.values() if a.packages & wanted)
        return sorted(found, key=lambda a: a.id)


class MemoryTrustPolicyRepository:
    def __init__(self, state: TrustState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def get(self, tenant_id: str) -> TrustPolicy | None:
        return self._state.policies.get(tenant_id) if self._scope.sees(tenant_id) else None

    async def put(self, policy: TrustPolicy) -> None:
        self._scope.check_write(policy.tenant_id)
        self._state.policies[policy.tenant_id] = policy


class MemoryTrustVerdictRepository:
    def __init__(self, state: TrustState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def add(self, verdict: TrustVerdict) -> None:
        self._scope.check_write(verdict.tenant_id)
        self._state.verdicts[verdict.score_id] = verdict

    async def get(self, tenant_id: str, score_id: str) -> TrustVerdict | None:
        found = self._state.verdicts.get(score_id)
        if found is None or found.tenant_id != tenant_id or not self._scope.sees(tenant_id):
            return None
        return found


class MemoryKeyLookup:
    def __init__(self, state: TrustState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def get(self, tenant_id: str, key_id: str) -> PublisherKey | None:
        return self._state.keys.get((tenant_id, key_id)) if self._scope.sees(tenant_id) else None


class MemoryTrustUnitOfWork(MemoryUnitOfWork[TrustState]):
    def __init__(self, state: TrustState, tenant_id: str, clock: Clock) -> None:
        super().__init__(state, tenant_id, clock)
        self.advisories = MemoryAdvisoryRepository(state, self)
        self.trust_policies = MemoryTrustPolicyRepository(state, self)
        self.trust_verdicts = MemoryTrustVerdictRepository(state, self)
        self.publisher_keys = MemoryKeyLookup(state, self)


class TrustMemoryStore(MemoryStore[TrustState, MemoryTrustUnitOfWork]):
    """Committed trust state (the trust context emits no events)."""

    def __init__(self, clock: Clock | None = None) -> None:
        used = clock or SystemClock()
        super().__init__(
            TrustState(), lambda state, tenant: MemoryTrustUnitOfWork(state, tenant, used)
        )

    def uow_factory(self) -> TrustUowFactory:
        return self.open
