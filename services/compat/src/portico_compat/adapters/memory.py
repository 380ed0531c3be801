"""In-memory adapters of the compat ports, for unit tests and the repository contract.

They behave like the PostgreSQL ones where the app layer can tell: a unit of
work sees only its tenant's rows and refuses to write another tenant's (as
row-level security does), and its writes and events take effect only when
the block exits without an exception (as a transaction commits).
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from google.protobuf.message import Message

from portico_common.clock import Clock, ManualClock
from portico_common.uow import RecordingEventSink
from portico_compat.app.ports import UnitOfWorkFactory
from portico_compat.domain.apis import HostApiCatalog
from portico_compat.domain.checks import CompatCheck
from portico_compat.domain.compatibility import HostProfile
from portico_compat.domain.permissions import PermissionPolicy
from portico_compat.domain.releases import ReleaseManifest

if TYPE_CHECKING:
    from portico_compat.adapters.tenant_resources import MemoryTenantResources


class RowLevelSecurityError(PermissionError):
    """A write of another tenant's row, which the database would refuse."""


def _no_resources() -> MemoryTenantResources:
    # Imported here: tenant_resources imports RowLevelSecurityError from this module.
    from portico_compat.adapters.tenant_resources import MemoryTenantResources

    return MemoryTenantResources()


@dataclass
class MemoryStore:
    """The committed state: what a database would hold, plus the committed events."""

    host_profiles: dict[str, tuple[HostProfile, datetime]] = field(default_factory=dict)
    checks: dict[str, CompatCheck] = field(default_factory=dict)
    api_catalogs: dict[tuple[str, str], HostApiCatalog] = field(default_factory=dict)
    release_manifests: dict[tuple[str, str], ReleaseManifest] = field(default_factory=dict)
    permission_policies: dict[str, PermissionPolicy] = field(default_factory=dict)
    # The tenancy projection; its twin keeps its own rows, read-only to a check.
    tenant_resources: MemoryTenantResources = field(default_factory=_no_resources)
    sink: RecordingEventSink = field(default_factory=RecordingEventSink)


def _require_own(tenant_id: str, row_tenant: str) -> None:
    if row_tenant != tenant_id:
        raise RowLevelSecurityError(f"tenant {tenant_id!r} cannot write a row of {row_tenant!r}")


class MemoryHostProfileRepository:
    def __init__(self, rows: dict[str, tuple[HostProfile, datetime]], tenant_id: str) -> None:
        self._rows = rows
        self._tenant = tenant_id

    async def get(self, tenant_id: str) -> HostProfile | None:
        if tenant_id != self._tenant or tenant_id not in self._rows:
            return None
        return self._rows[tenant_id][0]

    async def save(self, profile: HostProfile, updated_at: datetime) -> None:
        _require_own(self._tenant, profile.tenant_id)
        self._rows[profile.tenant_id] = (profile, updated_at)


class MemoryCompatCheckRepository:
    def __init__(self, rows: dict[str, CompatCheck], tenant_id: str) -> None:
        self._rows = rows
        self._tenant = tenant_id

    async def add(self, check: CompatCheck) -> None:
        _require_own(self._tenant, check.tenant_id)
        if check.check_id in self._rows:
            raise KeyError(f"check {check.check_id} exists already")
        self._rows[check.check_id] = check

    async def get(self, check_id: str) -> CompatCheck | None:
        check = self._rows.get(check_id)
        return check if check is not None and check.tenant_id == self._tenant else None

    async def latest(self, plugin: str, version: str) -> CompatCheck | None:
        matching = [
            c
            for c in self._rows.values()
            if (c.tenant_id, c.plugin, c.version) == (self._tenant, plugin, version)
        ]
        # max keeps the first of equal times; the last added wins a tie instead.
        return max(reversed(matching), key=lambda c: c.created_at, default=None)


class MemoryApiCatalogRepository:
    def __init__(self, rows: dict[tuple[str, str], HostApiCatalog], tenant_id: str) -> None:
        self._rows = rows
        self._tenant = tenant_id

    async def get(self, tenant_id: str, release: str) -> HostApiCatalog | None:
        return self._rows.get((tenant_id, release)) if tenant_id == self._tenant else None

    async def save(self, catalog: HostApiCatalog, updated_at: datetime) -> None:  # noqa: ARG002 - no timestamps kept in memory
        _require_own(self._tenant, catalog.tenant_id)
        self._rows[catalog.tenant_id, catalog.backstage_release] = catalog


class MemoryReleaseManifestRepository:
    def __init__(self, rows: dict[tuple[str, str], ReleaseManifest], tenant_id: str) -> None:
        self._rows = rows
        self._tenant = tenant_id

    async def get(self, tenant_id: str, release: str) -> ReleaseManifest | None:
        return self._rows.get((tenant_id, release)) if tenant_id == self._tenant else None

    async def save(self, manifest: ReleaseManifest, updated_at: datetime) -> None:  # noqa: ARG002 - no timestamps kept in memory
        _require_own(self._tenant, manifest.tenant_id)
        self._rows[manifest.tenant_id, manifest.backstage_release] = manifest


class MemoryPermissionPolicyRepository:
    def __init__(self, rows: dict[str, PermissionPolicy], tenant_id: str) -> None:
        self._rows = rows
        self._tenant = tenant_id

    async def get(self, tenant_id: str) -> PermissionPolicy | None:
        return self._rows.get(tenant_id) if tenant_id == self._tenant else None

    async def save(self, policy: PermissionPolicy, updated_at: datetime) -> None:  # noqa: ARG002 - no timestamps kept in memory
        _require_own(self._tenant, policy.tenant_id)
        self._rows[policy.tenant_id] = policy


class MemoryUnitOfWork:
    """Works on a copy of the store; `commit` writes the copy and the events back."""

    def __init__(self, store: MemoryStore, tenant_id: str, clock: Clock) -> None:
        self._store = store
        self.tenant_id = tenant_id
        self.clock = clock
        self._profiles = copy.copy(store.host_profiles)
        self._checks = copy.copy(store.checks)
        self._catalogs = copy.copy(store.api_catalogs)
        self._manifests = copy.copy(store.release_manifests)
        self._policies = copy.copy(store.permission_policies)
        self._events: list[tuple[Message, str]] = []
        self.host_profiles = MemoryHostProfileRepository(self._profiles, tenant_id)
        self.checks = MemoryCompatCheckRepository(self._checks, tenant_id)
        self.api_catalogs = MemoryApiCatalogRepository(self._catalogs, tenant_id)
        self.release_manifests = MemoryReleaseManifestRepository(self._manifests, tenant_id)
        self.permission_policies = MemoryPermissionPolicyRepository(self._policies, tenant_id)
        self.tenant_resources = store.tenant_resources.repository(tenant_id)

    async def emit(self, payload: Message, *, subject: str = "") -> None:
        self._events.append((payload, subject))

    def commit(self) -> None:
        self._store.host_profiles = self._profiles
        self._store.checks = self._checks
        self._store.api_catalogs = self._catalogs
        self._store.release_manifests = self._manifests
        self._store.permission_policies = self._policies
        self._store.sink.events.extend(self._events)


def memory_uow_factory(store: MemoryStore, clock: Clock | None = None) -> UnitOfWorkFactory:
    """`factory(tenant_id)` opens a unit of work on `store`, committed on a clean exit."""
    clock = clock or ManualClock()

    @asynccontextmanager
    async def open_uow(tenant_id: str) -> AsyncIterator[MemoryUnitOfWork]:
        if not tenant_id:
            raise ValueError("a transaction needs a tenant id")
        uow = MemoryUnitOfWork(store, tenant_id, clock)
        yield uow
        uow.commit()

    return open_uow
