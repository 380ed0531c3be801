"""What the verification use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from portico_common.clock import Clock
from portico_security.verification.domain.decisions import Verification
from portico_security.verification.domain.events import VerificationEvent
from portico_security.verification.domain.provenance import (
    BundleOutcome,
    BundleRequest,
    TrustConfig,
)
from portico_security.verification.domain.signatures import PublisherKey


class PublisherKeyRepository(Protocol):
    async def add(self, key: PublisherKey) -> bool:
        """Stores a new key; False if the tenant already has a key with this id."""

    async def get(self, tenant_id: str, key_id: str) -> PublisherKey | None:
        """The tenant's key with this id, or None."""

    async def get_for_update(self, tenant_id: str, key_id: str) -> PublisherKey | None:
        """Like get, and holds the key's row until the transaction ends (lifecycle changes)."""

    async def update_lifecycle(self, key: PublisherKey) -> None:
        """Stores the key's expiry, revocation and replacement (the key itself never changes)."""

    async def list(self, tenant_id: str, publisher: str = "") -> list[PublisherKey]:
        """The tenant's keys (of `publisher` if given), by publisher, then registration time."""


class VerificationRepository(Protocol):
    async def add(self, verification: Verification) -> None:
        """Stores a decision (ids are fresh UUIDs; a clash is a bug, not a conflict)."""

    async def get(self, tenant_id: str, verification_id: str) -> Verification | None:
        """The tenant's decision with this id, or None."""

    async def pinned_integrity(self, tenant_id: str, plugin: str, version: str) -> str | None:
        """The integrity of the tenant's first VERIFIED decision on plugin@version, or None."""


class VerificationUnitOfWork(Protocol):
    """One transaction: the repositories, the clock, and the outbox for its events."""

    # Read-only members, so any repository implementing the port fits.
    @property
    def publisher_keys(self) -> PublisherKeyRepository: ...
    @property
    def verifications(self) -> VerificationRepository: ...
    @property
    def clock(self) -> Clock: ...

    async def publish(self, events: Sequence[VerificationEvent]) -> None:
        """Queues the events to be published if, and only if, the transaction commits."""


VerificationUowFactory = Callable[[str], AbstractAsyncContextManager[VerificationUnitOfWork]]


class BundleVerifier(Protocol):
    """Verifies Sigstore bundles offline against a trust configuration."""

    @property
    def name(self) -> str: ...

    async def verify(
        self, requests: Sequence[BundleRequest], trust: TrustConfig
    ) -> list[BundleOutcome]:
        """One outcome per request, in order; raises VerifierUnavailableError if it cannot run."""


@dataclass(frozen=True)
class ProvenanceVerification:
    """The configured way to verify provenance: a verifier and what it trusts."""

    verifier: BundleVerifier
    trust: TrustConfig
