"""What the compat use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from portico_common.clock import Clock
from portico_compat.domain.apis import HostApiCatalog
from portico_compat.domain.checks import CompatCheck
from portico_compat.domain.compatibility import HostProfile
from portico_compat.domain.events import CompatEvent
from portico_compat.domain.permissions import PermissionPolicy
from portico_compat.domain.releases import ReleaseManifest
from portico_compat.domain.resources import Quota, TenantResources, Usage
from portico_compat.domain.solver import PackageCatalog


class HostProfileRepository(Protocol):
    async def get(self, tenant_id: str) -> HostProfile | None:
        """The tenant's profile, or None when none was set (or it is another tenant's)."""

    async def save(self, profile: HostProfile, updated_at: datetime) -> None:
        """Stores the profile, replacing the tenant's previous one."""


class CompatCheckRepository(Protocol):
    async def add(self, check: CompatCheck) -> None:
        """Records a check; every check is kept, none replaces another."""

    async def get(self, check_id: str) -> CompatCheck | None: ...

    async def latest(self, plugin: str, version: str) -> CompatCheck | None:
        """The tenant's most recent check of `plugin@version`, or None."""


class ApiCatalogRepository(Protocol):
    async def get(self, tenant_id: str, release: str) -> HostApiCatalog | None: ...

    async def save(self, catalog: HostApiCatalog, updated_at: datetime) -> None:
        """Stores the catalog, replacing the tenant's previous one for that release."""


class ReleaseManifestRepository(Protocol):
    async def get(self, tenant_id: str, release: str) -> ReleaseManifest | None: ...

    async def save(self, manifest: ReleaseManifest, updated_at: datetime) -> None:
        """Stores the manifest, replacing the tenant's previous one for that release."""

    async def all_for(self, tenant_id: str) -> list[ReleaseManifest]:
        """Every manifest recorded for the tenant, in no particular order."""


class ReleaseManifestSource(Protocol):
    """Where Backstage's published release manifests come from (beside the upload)."""

    async def fetch(self, tenant_id: str, release: str) -> ReleaseManifest:
        """The manifest Backstage publishes for `release`, recorded under `tenant_id`.

        Raises ReleaseNotPublishedError when none is published, and
        ReleaseManifestUnavailableError when the source cannot give one now.
        """


class PackageJsonCatalog(PackageCatalog, Protocol):
    """The npm catalog: every version of a package, and one version's package.json.

    Both calls block (registry adapters are synchronous, for the solver's
    worker threads); use cases call them in a thread.
    """

    def package_json(self, name: str, version: str) -> Mapping[str, object] | None:
        """The version's package.json as the registry serves it; None when unknown."""


class TenantResourcesReader(Protocol):
    async def get(self, tenant_id: str) -> TenantResources:
        """The tenant's projected quota and usage (None for what has not arrived)."""


class TenantResourcesProjection(TenantResourcesReader, Protocol):
    """compat's view of tenancy's quota and usage, updated from tenancy's events."""

    async def apply_quota(self, tenant_id: str, quota: Quota, updated_at: datetime) -> bool:
        """Stores the quota unless a higher revision is stored; True if applied."""

    async def apply_usage(self, tenant_id: str, usage: Usage, updated_at: datetime) -> bool:
        """Stores the usage unless a higher revision is stored; True if applied."""


class PermissionPolicyRepository(Protocol):
    async def get(self, tenant_id: str) -> PermissionPolicy | None: ...

    async def save(self, policy: PermissionPolicy, updated_at: datetime) -> None:
        """Stores the policy, replacing the tenant's previous one."""


class CompatUnitOfWork(Protocol):
    """One tenant's transaction: repositories, the clock, and the outbox for its events."""

    # Read-only members, so any repository implementing the port fits.
    @property
    def host_profiles(self) -> HostProfileRepository: ...
    @property
    def checks(self) -> CompatCheckRepository: ...
    @property
    def api_catalogs(self) -> ApiCatalogRepository: ...
    @property
    def release_manifests(self) -> ReleaseManifestRepository: ...
    @property
    def permission_policies(self) -> PermissionPolicyRepository: ...
    @property
    def tenant_resources(self) -> TenantResourcesReader: ...
    @property
    def clock(self) -> Clock: ...

    async def publish(self, events: Sequence[CompatEvent]) -> None:
        """Queues the events to be published if, and only if, the transaction commits."""


# `factory(tenant_id)`: one transaction that sees only that tenant's rows.
UnitOfWorkFactory = Callable[[str], AbstractAsyncContextManager[CompatUnitOfWork]]
