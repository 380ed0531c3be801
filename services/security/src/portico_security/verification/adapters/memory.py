"""In-memory adapters of the security ports, for unit tests and the contract suite.

They behave like the PostgreSQL ones where the app layer can tell: a unit of
work for one tenant sees only that tenant's rows (as RLS does), and writes
and events become visible only when the block exits without an error (as a
transaction commits), so "nothing was stored or emitted" is testable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from google.protobuf.message import Message

from portico_common.clock import Clock, SystemClock
from portico_common.uow import RecordingEventSink
from portico_security.verification.app.ports import UnitOfWorkFactory
from portico_security.verification.domain.decisions import Verification
from portico_security.verification.domain.signatures import PublisherKey
from portico_security.verification.domain.verification import Verdict


@dataclass
class MemoryStore:
    """Committed state: keys by (tenant, key id), decisions by id, emitted events."""

    keys: dict[tuple[str, str], PublisherKey] = field(default_factory=dict)
    verifications: dict[str, Verification] = field(default_factory=dict)
    events: RecordingEventSink = field(default_factory=RecordingEventSink)


class MemoryPublisherKeyRepository:
    def __init__(self, tenant_id: str, store: MemoryStore) -> None:
        self._tenant = tenant_id
        self._store = store
        self.staged: dict[tuple[str, str], PublisherKey] = {}

    async def add(self, key: PublisherKey) -> bool:
        _check_tenant(self._tenant, key.tenant_id)
        if await self.get(key.tenant_id, key.key_id) is not None:
            return False
        self.staged[key.tenant_id, key.key_id] = key
        return True

    async def get(self, tenant_id: str, key_id: str) -> PublisherKey | None:
        if tenant_id != self._tenant:
            return None
        found = self.staged.get((tenant_id, key_id))
        return found if found is not None else self._store.keys.get((tenant_id, key_id))

    async def get_for_update(self, tenant_id: str, key_id: str) -> PublisherKey | None:
        return await self.get(tenant_id, key_id)

    async def update_lifecycle(self, key: PublisherKey) -> None:
        _check_tenant(self._tenant, key.tenant_id)
        if await self.get(key.tenant_id, key.key_id) is None:
            raise KeyError(f"no key {key.key_id!r} to update")
        self.staged[key.tenant_id, key.key_id] = key

    async def list(self, tenant_id: str, publisher: str = "") -> list[PublisherKey]:
        if tenant_id != self._tenant:
            return []
        merged = {k: v for k, v in self._store.keys.items() if k[0] == tenant_id}
        merged.update(self.staged)
        keys = [key for key in merged.values() if not publisher or key.publisher == publisher]
        return sorted(keys, key=lambda key: (key.publisher, key.created_at, key.key_id))


class MemoryVerificationRepository:
    def __init__(self, tenant_id: str, store: MemoryStore) -> None:
        self._tenant = tenant_id
        self._store = store
        self.staged: dict[str, Verification] = {}

    async def add(self, verification: Verification) -> None:
        _check_tenant(self._tenant, verification.tenant_id)
        known = verification.verification_id
        if known in self.staged or known in self._store.verifications:
            raise ValueError(f"verification {known} exists already")
        self.staged[known] = verification

    async def get(self, tenant_id: str, verification_id: str) -> Verification | None:
        found = self.staged.get(verification_id) or self._store.verifications.get(verification_id)
        if found is None or tenant_id != self._tenant or found.tenant_id != tenant_id:
            return None
        return found

    async def pinned_integrity(self, tenant_id: str, plugin: str, version: str) -> str | None:
        if tenant_id != self._tenant:
            return None
        verified = [
            v
            for v in [*self._store.verifications.values(), *self.staged.values()]
            if (v.tenant_id, v.plugin, v.version) == (tenant_id, plugin, version)
            and v.verdict is Verdict.VERIFIED
        ]
        return min(verified, key=lambda v: v.created_at).integrity if verified else None


class MemoryUnitOfWork:
    """One 'transaction' over a MemoryStore: writes are staged, applied on clean exit."""

    def __init__(self, store: MemoryStore, tenant_id: str, clock: Clock) -> None:
        self.tenant_id = tenant_id
        self.clock = clock
        self.pending: list[tuple[Message, str]] = []
        self.publisher_keys = MemoryPublisherKeyRepository(tenant_id, store)
        self.verifications = MemoryVerificationRepository(tenant_id, store)

    async def emit(self, payload: Message, *, subject: str = "") -> None:
        self.pending.append((payload, subject))

    async def commit_to(self, store: MemoryStore) -> None:
        store.keys.update(self.publisher_keys.staged)
        store.verifications.update(self.verifications.staged)
        for payload, subject in self.pending:
            await store.events.emit(payload, subject=subject)


def memory_uow_factory(store: MemoryStore, clock: Clock | None = None) -> UnitOfWorkFactory:
    """`factory(tenant_id)` like the Pg one, over `store`."""
    used_clock = clock or SystemClock()

    @asynccontextmanager
    async def open_uow(tenant_id: str) -> AsyncIterator[MemoryUnitOfWork]:
        if not tenant_id:
            raise ValueError("a transaction needs a tenant id")
        uow = MemoryUnitOfWork(store, tenant_id, used_clock)
        yield uow
        await uow.commit_to(store)

    return open_uow


def _check_tenant(scope: str, tenant_id: str) -> None:
    if tenant_id != scope:
        # What the RLS policy's WITH CHECK does to a row of another tenant.
        raise PermissionError(f"a unit of work for {scope!r} cannot write {tenant_id!r}'s rows")
