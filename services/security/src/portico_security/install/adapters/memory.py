"""In-memory adapters of the install ports, for unit tests (like adapters.memory)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from portico_common.clock import Clock, SystemClock
from portico_common.db import ALL_TENANTS
from portico_security.install.app.ports import InstallUnitOfWorkFactory
from portico_security.install.domain.audit import AuditEntry, AuditRecord, append
from portico_security.install.domain.policy import InstallPolicy
from portico_security.install.domain.requests import InstallRequest, InstallStatus
from portico_security.verification.adapters.memory import MemoryStore, MemoryUnitOfWork


@dataclass
class InstallMemoryStore(MemoryStore):
    policies: dict[str, InstallPolicy] = field(default_factory=dict)
    requests: dict[str, InstallRequest] = field(default_factory=dict)
    audit: list[AuditRecord] = field(default_factory=list)


class MemoryInstallPolicyRepository:
    def __init__(self, tenant_id: str, store: InstallMemoryStore) -> None:
        self._tenant = tenant_id
        self._store = store
        self.staged: dict[str, InstallPolicy] = {}

    async def get(self, tenant_id: str) -> InstallPolicy | None:
        if not _visible(self._tenant, tenant_id):
            return None
        return self.staged.get(tenant_id) or self._store.policies.get(tenant_id)

    async def put(self, policy: InstallPolicy) -> None:
        _check_tenant(self._tenant, policy.tenant_id)
        self.staged[policy.tenant_id] = policy


class MemoryInstallRequestRepository:
    def __init__(self, tenant_id: str, store: InstallMemoryStore) -> None:
        self._tenant = tenant_id
        self._store = store
        self.staged: dict[str, InstallRequest] = {}

    async def add(self, request: InstallRequest) -> None:
        _check_tenant(self._tenant, request.tenant_id)
        if request.request_id in self._store.requests or request.request_id in self.staged:
            raise ValueError(f"install request {request.request_id} exists already")
        self.staged[request.request_id] = request

    async def save(self, request: InstallRequest) -> None:
        _check_tenant(self._tenant, request.tenant_id)
        self.staged[request.request_id] = request

    async def get(
        self, tenant_id: str, request_id: str, *, lock: bool = False
    ) -> InstallRequest | None:
        del lock  # one task at a time: nothing to lock against
        found = self.staged.get(request_id) or self._store.requests.get(request_id)
        if found is None or found.tenant_id != tenant_id or not _visible(self._tenant, tenant_id):
            return None
        return found

    async def due(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        pending = [
            r
            for r in self._store.requests.values()
            if r.status is InstallStatus.PENDING_APPROVAL
            and r.approval is not None
            and r.approval.deadline <= now
            and _visible(self._tenant, r.tenant_id)
        ]
        pending.sort(key=lambda r: r.approval.deadline if r.approval else now)
        return [(r.tenant_id, r.request_id) for r in pending[:limit]]


class MemoryAuditLog:
    """Append-only like the table: the port offers no way to change or remove a record."""

    def __init__(self, tenant_id: str, store: InstallMemoryStore) -> None:
        self._tenant = tenant_id
        self._store = store
        self.staged: list[AuditRecord] = []

    async def append(self, entry: AuditEntry) -> AuditRecord:
        _check_tenant(self._tenant, entry.tenant_id)
        chain = [
            r for r in (*self._store.audit, *self.staged) if r.entry.tenant_id == entry.tenant_id
        ]
        record = append(chain[-1] if chain else None, entry)
        self.staged.append(record)
        return record

    async def list(
        self, tenant_id: str, *, subject: str = "", after: int = 0, limit: int = 100
    ) -> list[AuditRecord]:
        if not _visible(self._tenant, tenant_id):
            return []
        found = [
            r
            for r in self._store.audit
            if r.entry.tenant_id == tenant_id
            and (not subject or r.entry.subject == subject)
            and r.sequence > after
        ]
        return found[:limit]


class MemoryInstallUnitOfWork(MemoryUnitOfWork):
    def __init__(self, store: InstallMemoryStore, tenant_id: str, clock: Clock) -> None:
        super().__init__(store, tenant_id, clock)
        self.install_policies = MemoryInstallPolicyRepository(tenant_id, store)
        self.install_requests = MemoryInstallRequestRepository(tenant_id, store)
        self.audit = MemoryAuditLog(tenant_id, store)

    async def commit_install(self, store: InstallMemoryStore) -> None:
        await self.commit_to(store)
        store.policies.update(self.install_policies.staged)
        store.requests.update(self.install_requests.staged)
        store.audit.extend(self.audit.staged)


def install_memory_uow_factory(
    store: InstallMemoryStore, clock: Clock | None = None
) -> InstallUnitOfWorkFactory:
    used_clock = clock or SystemClock()

    @asynccontextmanager
    async def open_uow(tenant_id: str) -> AsyncIterator[MemoryInstallUnitOfWork]:
        if not tenant_id:
            raise ValueError("a transaction needs a tenant id")
        uow = MemoryInstallUnitOfWork(store, tenant_id, used_clock)
        yield uow
        await uow.commit_install(store)

    return open_uow


def _visible(scope: str, tenant_id: str) -> bool:
    return scope in (ALL_TENANTS, tenant_id)


def _check_tenant(scope: str, tenant_id: str) -> None:
    if not _visible(scope, tenant_id):
        raise PermissionError(f"a unit of work for {scope!r} cannot write {tenant_id!r}'s rows")
