"""In-memory adapters of the advisory and trust ports, for unit tests.

Like PostgreSQL where the app layer can tell: writes become visible only
when the unit of work exits without an error, a tenant sees only its own
policies and verdicts, and advisories can be written only by a platform
(ALL_TENANTS) unit of work, as the table's row-level security demands.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from portico_common.clock import Clock, SystemClock
from portico_common.db import ALL_TENANTS
from portico_security.trust.app.scoring import TrustUnitOfWork, TrustUowFactory
from portico_security.trust.domain.advisories import Advisory
from portico_security.trust.domain.policy import TrustPolicy, TrustVerdict
from portico_security.verification.domain.signatures import PublisherKey


@dataclass
class TrustMemoryStore:
    advisories: dict[str, tuple[Advisory, datetime]] = field(default_factory=dict)
    policies: dict[str, TrustPolicy] = field(default_factory=dict)
    verdicts: dict[str, TrustVerdict] = field(default_factory=dict)
    # Registered publisher keys by (tenant, key id), as the key registry holds them.
    keys: dict[tuple[str, str], PublisherKey] = field(default_factory=dict)


class MemoryAdvisoryRepository:
    def __init__(self, tenant_id: str, store: TrustMemoryStore) -> None:
        self._tenant = tenant_id
        self._store = store
        self.staged: dict[str, tuple[Advisory, datetime]] = {}

    def _all(self) -> dict[str, tuple[Advisory, datetime]]:
        return {**self._store.advisories, **self.staged}

    async def modified_of(self, ids: Collection[str]) -> dict[str, datetime]:
        current = self._all()
        return {i: current[i][0].modified for i in ids if i in current}

    async def save(self, advisories: Sequence[Advisory], imported_at: datetime) -> None:
        if self._tenant != ALL_TENANTS:
            raise PermissionError("advisories are written by platform transactions only")
        for advisory in advisories:
            self.staged[advisory.id] = (advisory, imported_at)

    async def for_packages(self, names: Collection[str]) -> list[Advisory]:
        wanted = set(names)
        return sorted(
            (a for a, _ in self._all().values() if a.packages & wanted), key=lambda a: a.id
        )


class MemoryTrustPolicyRepository:
    def __init__(self, tenant_id: str, store: TrustMemoryStore) -> None:
        self._tenant = tenant_id
        self._store = store
        self.staged: dict[str, TrustPolicy] = {}

    async def get(self, tenant_id: str) -> TrustPolicy | None:
        if self._tenant not in (tenant_id, ALL_TENANTS):
            return None
        return self.staged.get(tenant_id) or self._store.policies.get(tenant_id)

    async def put(self, policy: TrustPolicy) -> None:
        if policy.tenant_id != self._tenant:
            raise PermissionError("row-level security: another tenant's policy")
        self.staged[policy.tenant_id] = policy


class MemoryTrustVerdictRepository:
    def __init__(self, tenant_id: str, store: TrustMemoryStore) -> None:
        self._tenant = tenant_id
        self._store = store
        self.staged: dict[str, TrustVerdict] = {}

    async def add(self, verdict: TrustVerdict) -> None:
        if verdict.tenant_id != self._tenant:
            raise PermissionError("row-level security: another tenant's verdict")
        self.staged[verdict.score_id] = verdict

    async def get(self, tenant_id: str, score_id: str) -> TrustVerdict | None:
        found = self.staged.get(score_id) or self._store.verdicts.get(score_id)
        return found if found is not None and found.tenant_id == tenant_id else None


class MemoryKeyLookup:
    def __init__(self, tenant_id: str, store: TrustMemoryStore) -> None:
        self._tenant = tenant_id
        self._store = store

    async def get(self, tenant_id: str, key_id: str) -> PublisherKey | None:
        if tenant_id != self._tenant:
            return None
        return self._store.keys.get((tenant_id, key_id))


class MemoryTrustUnitOfWork:
    def __init__(self, tenant_id: str, store: TrustMemoryStore, clock: Clock) -> None:
        self.advisories = MemoryAdvisoryRepository(tenant_id, store)
        self.trust_policies = MemoryTrustPolicyRepository(tenant_id, store)
        self.trust_verdicts = MemoryTrustVerdictRepository(tenant_id, store)
        self.publisher_keys = MemoryKeyLookup(tenant_id, store)
        self.clock = clock
        self._store = store

    def commit(self) -> None:
        self._store.advisories.update(self.advisories.staged)
        self._store.policies.update(self.trust_policies.staged)
        self._store.verdicts.update(self.trust_verdicts.staged)


def memory_trust_uow_factory(
    store: TrustMemoryStore, clock: Clock | None = None
) -> TrustUowFactory:
    real_clock = clock or SystemClock()

    @asynccontextmanager
    async def factory(tenant_id: str) -> AsyncIterator[TrustUnitOfWork]:
        uow = MemoryTrustUnitOfWork(tenant_id, store, real_clock)
        yield uow
        uow.commit()

    return factory
