"""What secure install, approvals and the audit trail need from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from portico_security.install.domain.audit import AuditEntry, AuditRecord
from portico_security.install.domain.policy import AdvisoryFinding, InstallPolicy
from portico_security.install.domain.requests import InstallRequest, TrustBreakdown
from portico_security.verification.app.ports import SecurityUnitOfWork
from portico_security.verification.domain.decisions import Verification


class InstallPolicyRepository(Protocol):
    async def get(self, tenant_id: str) -> InstallPolicy | None:
        """The tenant's policy, or None when it never set one."""

    async def put(self, policy: InstallPolicy) -> None:
        """Stores (replaces) the tenant's policy."""


class InstallRequestRepository(Protocol):
    async def add(self, request: InstallRequest) -> None: ...

    async def save(self, request: InstallRequest) -> None:
        """Replaces the stored request with the same id."""

    async def get(
        self, tenant_id: str, request_id: str, *, lock: bool = False
    ) -> InstallRequest | None: ...

    async def due(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(tenant, request id) of pending approvals whose deadline is at or before `now`."""


class AuditLog(Protocol):
    async def append(self, entry: AuditEntry) -> AuditRecord:
        """Adds the entry at the end of its tenant's chain (serialised per tenant)."""

    async def list(
        self, tenant_id: str, *, subject: str = "", after: int = 0, limit: int = 100
    ) -> list[AuditRecord]:
        """Records in sequence order, after sequence `after`, optionally of one subject."""


class InstallUnitOfWork(SecurityUnitOfWork, Protocol):
    @property
    def install_policies(self) -> InstallPolicyRepository: ...
    @property
    def install_requests(self) -> InstallRequestRepository: ...
    @property
    def audit(self) -> AuditLog: ...


InstallUnitOfWorkFactory = Callable[[str], AbstractAsyncContextManager[InstallUnitOfWork]]


class TrustScorer(Protocol):
    """Scores a verified plugin version; the trust module's use case fits behind it."""

    async def score(
        self,
        tenant_id: str,
        plugin: str,
        version: str,
        *,
        verification: Verification,
        publisher: str,
        dependencies: Sequence[tuple[str, str]] = (),
    ) -> TrustBreakdown: ...


class AdvisoryMatcher(Protocol):
    """The advisories affecting a plugin version and its dependencies."""

    async def match(
        self, tenant_id: str, plugin: str, version: str, dependencies: Sequence[tuple[str, str]]
    ) -> tuple[AdvisoryFinding, ...]: ...
