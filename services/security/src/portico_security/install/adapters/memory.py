"""In-memory adapters of the install ports, on the kernel's in-memory unit of work.

They keep the promises the PostgreSQL ones keep (the contract suite runs
against both): tenant rows under row-level security, writes and events only
on a clean exit, and an audit log the port offers no way to change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from portico_common.clock import Clock, SystemClock
from portico_common.memory_uow import MemoryStore, MemoryUnitOfWork, TenantScope
from portico_security.install.adapters.messages import subject_of, to_message
from portico_security.install.app.ports import InstallUowFactory
from portico_security.install.domain.audit import AuditEntry, AuditRecord, append
from portico_security.install.domain.events import InstallEvent
from portico_security.install.domain.policy import InstallPolicy
from portico_security.install.domain.requests import InstallRequest, InstallStatus


@dataclass
class InstallState:
    """Every table: policies by tenant, requests by id, the audit chains in append order."""

    policies: dict[str, InstallPolicy] = field(default_factory=dict)
    requests: dict[str, InstallRequest] = field(default_factory=dict)
    audit: list[AuditRecord] = field(default_factory=list)


class MemoryInstallPolicyRepository:
    def __init__(self, state: InstallState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def get(self, tenant_id: str) -> InstallPolicy | None:
        return self._state.policies.get(tenant_id) if self._scope.sees(tenant_id) else None

    async def put(self, policy: InstallPolicy) -> None:
        self._scope.check_write(policy.tenant_id)
        self._state.policies[policy.tenant_id] = policy


class MemoryInstallRequestRepository:
    def __init__(self, state: InstallState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def add(self, request: InstallRequest) -> None:
        self._scope.check_write(request.tenant_id)
        if request.request_id in self._state.requests:
            raise ValueError(f"install request {request.request_id} exists already")
        self._state.requests[request.request_id] = request

    async def save(self, request: InstallRequest) -> None:
        self._scope.check_write(request.tenant_id)
        self._state.requests[request.request_id] = request

    async def get(
        self, tenant_id: str, request_id: str, *, lock: bool = False
    ) -> InstallRequest | None:
        del lock  # one unit of work at a time: nothing to lock against
        found = self._state.requests.get(request_id)
        if found is None or found.tenant_id != tenant_id or not self._scope.sees(tenant_id):
            return None
        return found

    async def due(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        pending = [
            r
            for r in self._state.requests.values()
            if r.status is InstallStatus.PENDING_APPROVAL
            and r.approval is not None
            and r.approval.deadline <= now
            and self._scope.sees(r.tenant_id)
        ]
        pending.sort(key=lambda r: r.approval.deadline if r.approval else now)
        return [(r.tenant_id, r.request_id) for r in pending[:limit]]

    async def of_plugin(
        self, tenant_id: str, plugin: str, statuses: Sequence[InstallStatus], *, lock: bool = False
    ) -> list[InstallRequest]:
        del lock  # one unit of work at a time: nothing to lock against
        if not self._scope.sees(tenant_id):
            return []
        found = [
            r
            for r in self._state.requests.values()
            if r.tenant_id == tenant_id and r.plugin == plugin and r.status in statuses
        ]
        return sorted(found, key=lambda r: (r.created_at, r.request_id))


class MemoryAuditLog:
    """Append-only like the table: the port offers no way to change or remove a record."""

    def __init__(self, state: InstallState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def append(self, entry: AuditEntry) -> AuditRecord:
        self._scope.check_write(entry.tenant_id)
        chain = [r for r in self._state.audit if r.entry.tenant_id == entry.tenant_id]
        record = append(chain[-1] if chain else None, entry)
        self._state.audit.append(record)
        return record

    async def list(
        self, tenant_id: str, *, subject: str = "", after: int = 0, limit: int = 100
    ) -> list[AuditRecord]:
        if not self._scope.sees(tenant_id):
            return []
        found = [
            r
            for r in self._state.audit
            if r.entry.tenant_id == tenant_id
            and (not subject or r.entry.subject == subject)
            and r.sequence > after
        ]
        return found[:limit]


class MemoryInstallUnitOfWork(MemoryUnitOfWork[InstallState]):
    def __init__(self, state: InstallState, tenant_id: str, clock: Clock) -> None:
        super().__init__(state, tenant_id, clock)
        self.install_policies = MemoryInstallPolicyRepository(state, self)
        self.install_requests = MemoryInstallRequestRepository(state, self)
        self.audit = MemoryAuditLog(state, self)

    async def publish(self, events: Sequence[InstallEvent]) -> None:
        for event in events:
            await self.emit(to_message(event), subject=subject_of(event))


class InstallMemoryStore(MemoryStore[InstallState, MemoryInstallUnitOfWork]):
    """Committed install state, and the events that committed with it."""

    def __init__(self, clock: Clock | None = None) -> None:
        used = clock or SystemClock()
        super().__init__(
            InstallState(), lambda state, tenant: MemoryInstallUnitOfWork(state, tenant, used)
        )

    def uow_factory(self) -> InstallUowFactory:
        return self.open
