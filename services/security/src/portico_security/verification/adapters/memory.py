"""In-memory adapters of the verification ports, on the kernel's in-memory unit of work.

They keep the promises the PostgreSQL ones keep (the contract suite runs
against both): a unit of work for one tenant sees only that tenant's rows,
and writes and events land only when the block exits without an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from portico_common.clock import Clock, SystemClock
from portico_common.memory_uow import MemoryStore, MemoryUnitOfWork, TenantScope
from portico_security.verification.adapters.messages import subject_of, to_message
from portico_security.verification.app.ports import VerificationUowFactory
from portico_security.verification.domain.decisions import Verification
from portico_security.verification.domain.events import VerificationEvent
from portico_security.verification.domain.signatures import PublisherKey
from portico_security.verification.domain.verification import Verdict


@dataclass
class VerificationState:
    """Every table: keys by (tenant, key id), decisions by id."""

    keys: dict[tuple[str, str], PublisherKey] = field(default_factory=dict)
    verifications: dict[str, Verification] = field(default_factory=dict)


class MemoryPublisherKeyRepository:
    def __init__(self, state: VerificationState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def add(self, key: PublisherKey) -> bool:
        self._scope.check_write(key.tenant_id)
        if (key.tenant_id, key.key_id) in self._state.keys:
            return False
        self._state.keys[key.tenant_id, key.key_id] = key
        return True

    async def get(self, tenant_id: str, key_id: str) -> PublisherKey | None:
        if not self._scope.sees(tenant_id):
            return None
        return self._state.keys.get((tenant_id, key_id))

    async def get_for_update(self, tenant_id: str, key_id: str) -> PublisherKey | None:
        # One unit of work at a time: the store's lock is stronger than a row lock.
        return await self.get(tenant_id, key_id)

    async def update_lifecycle(self, key: PublisherKey) -> None:
        self._scope.check_write(key.tenant_id)
        if (key.tenant_id, key.key_id) not in self._state.keys:
            raise KeyError(f"no key {key.key_id!r} to update")
        self._state.keys[key.tenant_id, key.key_id] = key

    async def list(self, tenant_id: str, publisher: str = "") -> list[PublisherKey]:
        if not self._scope.sees(tenant_id):
            return []
        keys = [
            key
            for (tenant, _), key in self._state.keys.items()
            if tenant == tenant_id and (not publisher or key.publisher == publisher)
        ]
        return sorted(keys, key=lambda key: (key.publisher, key.created_at, key.key_id))


class MemoryVerificationRepository:
    def __init__(self, state: VerificationState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def add(self, verification: Verification) -> None:
        self._scope.check_write(verification.tenant_id)
        if verification.verification_id in self._state.verifications:
            raise ValueError(f"verification {verification.verification_id} exists already")
        self._state.verifications[verification.verification_id] = verification

    async def get(self, tenant_id: str, verification_id: str) -> Verification | None:
        found = self._state.verifications.get(verification_id)
        if found is None or found.tenant_id != tenant_id or not self._scope.sees(tenant_id):
            return None
        return found

    async def pinned_integrity(self, tenant_id: str, plugin: str, version: str) -> str | None:
        if not self._scope.sees(tenant_id):
            return None
        verified = [
            v
            for v in self._state.verifications.values()
            if (v.tenant_id, v.plugin, v.version) == (tenant_id, plugin, version)
            and v.verdict is Verdict.VERIFIED
        ]
        return min(verified, key=lambda v: v.created_at).integrity if verified else None


class MemoryVerificationUnitOfWork(MemoryUnitOfWork[VerificationState]):
    def __init__(self, state: VerificationState, tenant_id: str, clock: Clock) -> None:
        super().__init__(state, tenant_id, clock)
        self.publisher_keys = MemoryPublisherKeyRepository(state, self)
        self.verifications = MemoryVerificationRepository(state, self)

    async def publish(self, events: Sequence[VerificationEvent]) -> None:
        for event in events:
            await self.emit(to_message(event), subject=subject_of(event))


class VerificationMemoryStore(MemoryStore[VerificationState, MemoryVerificationUnitOfWork]):
    """Committed verification state, and the events that committed with it."""

    def __init__(self, clock: Clock | None = None) -> None:
        used = clock or SystemClock()
        super().__init__(
            VerificationState(),
            lambda state, tenant: MemoryVerificationUnitOfWork(state, tenant, used),
        )

    def uow_factory(self) -> VerificationUowFactory:
        return self.open
