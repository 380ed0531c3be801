"""What secure install, approvals and the audit trail need from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from portico_common.clock import Clock
from portico_security.install.domain.audit import AuditEntry, AuditRecord
from portico_security.install.domain.events import InstallEvent
from portico_security.install.domain.policy import AdvisoryFinding, InstallPolicy
from portico_security.install.domain.requests import (
    InstallRequest,
    InstallStatus,
    TrustBreakdown,
)
from portico_security.install.domain.resources import DeclaredResources
from portico_security.verification.app.commands import VerifyArtifact
from portico_security.verification.domain.decisions import Verification


class InstallPolicyRepository(Protocol):
    async def get(self, tenant_id: str) -> InstallPolicy | None:
        """The tenant's policy, or None when it never set one."""

    async def put(self, policy: InstallPolicy) -> None:
        """Stores (replaces) the tenant's policy."""


class InstallRequestRepository(Protocol):
    async def add(self, request: InstallRequest) -> None:
        """Stores a new request (ids are fresh UUIDs; a clash is a bug, not a conflict)."""

    async def save(self, request: InstallRequest) -> None:
        """Replaces the stored request with the same id."""

    async def get(
        self, tenant_id: str, request_id: str, *, lock: bool = False
    ) -> InstallRequest | None:
        """The tenant's request with this id, or None; `lock` holds it until commit."""

    async def due(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(tenant, request id) of pending approvals whose deadline is at or before `now`."""

    async def of_plugin(
        self, tenant_id: str, plugin: str, statuses: Sequence[InstallStatus], *, lock: bool = False
    ) -> list[InstallRequest]:
        """The tenant's requests of the plugin in one of `statuses`, oldest first."""


class AuditLog(Protocol):
    async def append(self, entry: AuditEntry) -> AuditRecord:
        """Adds the entry at the end of its tenant's chain (serialised per tenant)."""

    async def list(
        self, tenant_id: str, *, subject: str = "", after: int = 0, limit: int = 100
    ) -> list[AuditRecord]:
        """Records in sequence order, after sequence `after`, optionally of one subject."""


class InstallUnitOfWork(Protocol):
    """One transaction: the repositories, the clock, and the outbox for its events."""

    # Read-only members, so any repository implementing the port fits.
    @property
    def install_policies(self) -> InstallPolicyRepository: ...
    @property
    def install_requests(self) -> InstallRequestRepository: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def clock(self) -> Clock: ...

    async def publish(self, events: Sequence[InstallEvent]) -> None:
        """Queues the events to be published if, and only if, the transaction commits."""


InstallUowFactory = Callable[[str], AbstractAsyncContextManager[InstallUnitOfWork]]


class QuotaGate(Protocol):
    """Room in the tenant's quota, reserved at tenancy before an install starts."""

    async def reserve_install(
        self,
        tenant_id: str,
        request_id: str,
        plugin: str,
        version: str,
        resources: DeclaredResources | None = None,
    ) -> None:
        """Holds one plugin, and the declared CPU and memory, for the request in one claim;
        InstallQuotaExceededError naming the dimension when it does not fit."""

    async def release(self, tenant_id: str, request_id: str, reason: str) -> None:
        """Gives the request's hold back (the install failed before it was decided)."""


class DeclaredResourcesSource(Protocol):
    """What a plugin version declared it needs (compat's latest recorded check)."""

    async def declared(self, tenant_id: str, plugin: str, version: str) -> DeclaredResources | None:
        """The declaration, or None when no check of the version declared any;
        DeclaredResourcesUnavailableError when the source cannot answer."""


@dataclass(frozen=True, slots=True)
class VerifiedArtifact:
    """A recorded verification decision, and the publisher whose registered key it names."""

    verification: Verification
    # "" when the claimed key id is not registered for the tenant.
    publisher: str


class ArtifactVerifier(Protocol):
    """Verifies and records an artifact (verification's use case fits behind it)."""

    async def verify(self, command: VerifyArtifact) -> VerifiedArtifact: ...


class TrustScorer(Protocol):
    """Scores a verified plugin version; the trust context's use case fits behind it."""

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
