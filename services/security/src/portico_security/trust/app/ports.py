"""What the advisory and trust use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from portico_common.clock import Clock
from portico_security.trust.domain.advisories import Advisory
from portico_security.trust.domain.policy import TrustPolicy, TrustVerdict
from portico_security.trust.domain.scores import PackageSignals
from portico_security.verification.domain.signatures import PublisherKey


@dataclass(frozen=True, slots=True)
class RawDocument:
    """One OSV document as read, with where it came from (for error messages)."""

    origin: str
    content: bytes | str


class AdvisoryRepository(Protocol):
    async def modified_of(self, ids: Collection[str]) -> dict[str, datetime]:
        """The stored `modified` time of each of these advisory ids that exists."""

    async def save(self, advisories: Sequence[Advisory], imported_at: datetime) -> None:
        """Inserts or replaces the advisories and the packages they name (one batch)."""

    async def for_packages(self, names: Collection[str]) -> list[Advisory]:
        """Every advisory naming any of these packages (withdrawn ones too)."""


class TrustPolicyRepository(Protocol):
    async def get(self, tenant_id: str) -> TrustPolicy | None:
        """The tenant's stored policy, or None while the defaults apply."""

    async def put(self, policy: TrustPolicy) -> None:
        """Stores (or replaces) the tenant's policy."""


class TrustVerdictRepository(Protocol):
    async def add(self, verdict: TrustVerdict) -> None:
        """Stores a verdict with its whole breakdown."""

    async def get(self, tenant_id: str, score_id: str) -> TrustVerdict | None:
        """The tenant's verdict with this id, or None."""


class PublisherKeyLookup(Protocol):
    """Verification's key registry, read for the age of the key that signed."""

    async def get(self, tenant_id: str, key_id: str) -> PublisherKey | None:
        """The tenant's registered key with this id, or None."""


class AdvisoryUnitOfWork(Protocol):
    """What importing and matching advisories need of a transaction."""

    @property
    def advisories(self) -> AdvisoryRepository: ...
    @property
    def clock(self) -> Clock: ...


class TrustUnitOfWork(AdvisoryUnitOfWork, Protocol):
    """One transaction of the trust context: advisories, policies, verdicts, key lookup."""

    @property
    def publisher_keys(self) -> PublisherKeyLookup: ...
    @property
    def trust_policies(self) -> TrustPolicyRepository: ...
    @property
    def trust_verdicts(self) -> TrustVerdictRepository: ...


AdvisoryUowFactory = Callable[[str], AbstractAsyncContextManager[AdvisoryUnitOfWork]]
TrustUowFactory = Callable[[str], AbstractAsyncContextManager[TrustUnitOfWork]]


class AdvisorySource(Protocol):
    """A directory or feed of OSV documents."""

    @property
    def name(self) -> str: ...

    async def fetch(self) -> list[RawDocument]: ...


class PackageSignalsSource(Protocol):
    """Adoption, quality and release signals of a package (a registry adapter)."""

    async def signals(self, package: str) -> PackageSignals | None:
        """The package's signals, or None when the source does not know it."""
