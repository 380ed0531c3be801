"""In-memory adapters of the compat ports, for unit tests and the shared contract suites.

Built on the kernel's in-memory unit of work, so they keep the promises the
PostgreSQL ones keep where the app layer can tell: a unit of work sees only
its tenant's rows and refuses to write another tenant's (as row-level
security does), and its writes and events take effect only when the block
exits without an exception (as a transaction commits).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from portico_common.clock import Clock, ManualClock
from portico_common.memory_uow import MemoryStore, MemoryUnitOfWork, TenantScope
from portico_compat.adapters.messages import subject_of, to_message
from portico_compat.domain.apis import HostApiCatalog
from portico_compat.domain.checks import CompatCheck
from portico_compat.domain.compatibility import HostProfile
from portico_compat.domain.events import CompatEvent
from portico_compat.domain.permissions import PermissionPolicy
from portico_compat.domain.releases import ReleaseManifest
from portico_compat.domain.resources import Quota, TenantResources, Usage


@dataclass
class CompatState:
    """Every table compat keeps, as plain containers of frozen domain objects."""

    host_profiles: dict[str, tuple[HostProfile, datetime]] = field(default_factory=dict)
    checks: dict[str, CompatCheck] = field(default_factory=dict)
    api_catalogs: dict[tuple[str, str], HostApiCatalog] = field(default_factory=dict)
    release_manifests: dict[tuple[str, str], ReleaseManifest] = field(default_factory=dict)
    permission_policies: dict[str, PermissionPolicy] = field(default_factory=dict)
    # The projection of tenancy's events: (quota or usage, when tenancy changed it).
    tenant_quotas: dict[str, tuple[Quota, datetime]] = field(default_factory=dict)
    tenant_usage: dict[str, tuple[Usage, datetime]] = field(default_factory=dict)

    def __deepcopy__(self, memo: dict[int, Any]) -> CompatState:
        # Rows are frozen (their mappings read-only proxies, which cannot be
        # deep-copied), so a private copy of each table is a private copy of all.
        return CompatState(**{f.name: copy.copy(getattr(self, f.name)) for f in fields(self)})


class MemoryHostProfileRepository:
    def __init__(self, state: CompatState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def get(self, tenant_id: str) -> HostProfile | None:
        found = self._state.host_profiles.get(tenant_id)
        return found[0] if found is not None and self._scope.sees(tenant_id) else None

    async def save(self, profile: HostProfile, updated_at: datetime) -> None:
        self._scope.check_write(profile.tenant_id)
        self._state.host_profiles[profile.tenant_id] = (profile, updated_at)


class MemoryCompatCheckRepository:
    def __init__(self, state: CompatState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def add(self, check: CompatCheck) -> None:
        self._scope.check_write(check.tenant_id)
        if check.check_id in self._state.checks:
            raise KeyError(f"check {check.check_id} exists already")
        self._state.checks[check.check_id] = check

    async def get(self, check_id: str) -> CompatCheck | None:
        check = self._state.checks.get(check_id)
        return check if check is not None and self._scope.sees(check.tenant_id) else None

    async def latest(self, plugin: str, version: str) -> CompatCheck | None:
        matching = [
            c
            for c in self._state.checks.values()
            if (c.plugin, c.version) == (plugin, version) and self._scope.sees(c.tenant_id)
        ]
        # max keeps the first of equal times; the last added wins a tie instead.
        return max(reversed(matching), key=lambda c: c.created_at, default=None)


class MemoryApiCatalogRepository:
    def __init__(self, state: CompatState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def get(self, tenant_id: str, release: str) -> HostApiCatalog | None:
        found = self._state.api_catalogs.get((tenant_id, release))
        return found if self._scope.sees(tenant_id) else None

    async def save(self, catalog: HostApiCatalog, updated_at: datetime) -> None:  # noqa: ARG002 - no timestamps kept in memory
        self._scope.check_write(catalog.tenant_id)
        self._state.api_catalogs[catalog.tenant_id, catalog.backstage_release] = catalog


class MemoryReleaseManifestRepository:
    def __init__(self, state: CompatState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def get(self, tenant_id: str, release: str) -> ReleaseManifest | None:
        found = self._state.release_manifests.get((tenant_id, release))
        return found if self._scope.sees(tenant_id) else None

    async def save(self, manifest: ReleaseManifest, updated_at: datetime) -> None:  # noqa: ARG002 - no timestamps kept in memory
        self._scope.check_write(manifest.tenant_id)
        self._state.release_manifests[manifest.tenant_id, manifest.backstage_release] = manifest

    async def all_for(self, tenant_id: str) -> list[ReleaseManifest]:
        if not self._scope.sees(tenant_id):
            return []
        return [
            m for (tenant, _), m in self._state.release_manifests.items() if tenant == tenant_id
        ]


class MemoryPermissionPolicyRepository:
    def __init__(self, state: CompatState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def get(self, tenant_id: str) -> PermissionPolicy | None:
        found = self._state.permission_policies.get(tenant_id)
        return found if self._scope.sees(tenant_id) else None

    async def save(self, policy: PermissionPolicy, updated_at: datetime) -> None:  # noqa: ARG002 - no timestamps kept in memory
        self._scope.check_write(policy.tenant_id)
        self._state.permission_policies[policy.tenant_id] = policy


class MemoryTenantResourcesRepository:
    """The in-memory twin of PgTenantResourcesRepository: a newer revision replaces an older."""

    def __init__(self, state: CompatState, scope: TenantScope) -> None:
        self._state = state
        self._scope = scope

    async def get(self, tenant_id: str) -> TenantResources:
        if not self._scope.sees(tenant_id):
            return TenantResources()
        quota = self._state.tenant_quotas.get(tenant_id)
        usage = self._state.tenant_usage.get(tenant_id)
        return TenantResources(
            None if quota is None else quota[0], None if usage is None else usage[0]
        )

    async def apply_quota(self, tenant_id: str, quota: Quota, updated_at: datetime) -> bool:
        self._scope.check_write(tenant_id)
        known = self._state.tenant_quotas.get(tenant_id)
        if known is not None and known[0].revision >= quota.revision:
            return False
        self._state.tenant_quotas[tenant_id] = (quota, updated_at)
        return True

    async def apply_usage(self, tenant_id: str, usage: Usage, updated_at: datetime) -> bool:
        self._scope.check_write(tenant_id)
        known = self._state.tenant_usage.get(tenant_id)
        if known is not None and known[0].revision >= usage.revision:
            return False
        self._state.tenant_usage[tenant_id] = (usage, updated_at)
        return True


class CompatMemoryUnitOfWork(MemoryUnitOfWork[CompatState]):
    """One in-memory transaction of one tenant with compat's repositories."""

    def __init__(self, state: CompatState, tenant_id: str, clock: Clock) -> None:
        super().__init__(state, tenant_id, clock)
        self.host_profiles = MemoryHostProfileRepository(state, self)
        self.checks = MemoryCompatCheckRepository(state, self)
        self.api_catalogs = MemoryApiCatalogRepository(state, self)
        self.release_manifests = MemoryReleaseManifestRepository(state, self)
        self.permission_policies = MemoryPermissionPolicyRepository(state, self)
        self.tenant_resources = MemoryTenantResourcesRepository(state, self)

    async def publish(self, events: Sequence[CompatEvent]) -> None:
        for event in events:
            await self.emit(to_message(event), subject=subject_of(event))


CompatMemoryStore = MemoryStore[CompatState, CompatMemoryUnitOfWork]


def memory_store(clock: Clock | None = None) -> CompatMemoryStore:
    """An empty store; `store.open` is the unit-of-work factory the use cases take."""
    at = clock or ManualClock()
    return MemoryStore(
        CompatState(), lambda state, tenant: CompatMemoryUnitOfWork(state, tenant, at)
    )


def committed_projection(
    store: CompatMemoryStore, tenant_id: str
) -> MemoryTenantResourcesRepository:
    """The projection as the event consumer's transaction of `tenant_id` sees it.

    The kernel consumer runs a handler inside its own transaction, which it
    commits with the inbox row; in memory there is no such transaction to
    join, so the handler's writes land in the committed state at once.
    """
    return MemoryTenantResourcesRepository(store.state, TenantScope(tenant_id))
