"""Compat use cases: record a tenant's host, check plugin versions against it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping

from portico_common.npm import require_package_name, require_version
from portico_common.tenants import require_tenant_id
from portico_compat.app.ports import ReleaseManifestSource, UnitOfWorkFactory
from portico_compat.domain.apis import HostApiCatalog
from portico_compat.domain.checks import (
    CompatCheck,
    HostState,
    Installed,
    dimension_steps,
    record,
)
from portico_compat.domain.compatibility import DimensionReport, HostProfile
from portico_compat.domain.events import CompatChecked
from portico_compat.domain.installs import DEFAULT_SINGLETONS
from portico_compat.domain.permissions import PermissionPolicy
from portico_compat.domain.plugins import PluginRequirements
from portico_compat.domain.releases import ReleaseManifest
from portico_compat.domain.resources import Resources
from portico_compat.errors import UnknownHostProfileError


async def set_host_profile(
    uow: UnitOfWorkFactory,
    tenant_id: str,
    backstage_version: str,
    node_version: str,
    packages: Mapping[str, str],
    *,
    manifests: ReleaseManifestSource | None = None,
) -> HostProfile:
    """Validates and stores the tenant's host profile, replacing any previous one.

    With a manifest source, a release the tenant has no manifest of gets its
    published one, stored with the profile; if it cannot be fetched, nothing
    is stored and the error says why (no HTTP call runs inside a transaction).
    """
    require_tenant_id(tenant_id)
    profile = HostProfile(tenant_id, backstage_version, node_version, packages)
    fetched = None
    if manifests is not None:
        async with uow(tenant_id) as tx:
            known = await tx.release_manifests.get(tenant_id, backstage_version)
        if known is None:
            fetched = await manifests.fetch(tenant_id, backstage_version)
    async with uow(tenant_id) as tx:
        await tx.host_profiles.save(profile, tx.clock.now())
        if fetched is not None:
            await tx.release_manifests.save(fetched, tx.clock.now())
    return profile


async def fetch_release_manifest(
    uow: UnitOfWorkFactory, manifests: ReleaseManifestSource, tenant_id: str, release: str
) -> ReleaseManifest:
    """Fetches the manifest Backstage publishes for `release` and stores it for the tenant."""
    require_tenant_id(tenant_id)
    manifest = await manifests.fetch(tenant_id, release)
    return await set_release_manifest(uow, manifest)


async def set_host_api_catalog(uow: UnitOfWorkFactory, catalog: HostApiCatalog) -> HostApiCatalog:
    """Stores the tenant's API catalog of one Backstage release (validated on construction)."""
    require_tenant_id(catalog.tenant_id)
    async with uow(catalog.tenant_id) as tx:
        await tx.api_catalogs.save(catalog, tx.clock.now())
    return catalog


async def set_release_manifest(
    uow: UnitOfWorkFactory, manifest: ReleaseManifest
) -> ReleaseManifest:
    """Stores the tenant's manifest of one Backstage release."""
    require_tenant_id(manifest.tenant_id)
    async with uow(manifest.tenant_id) as tx:
        await tx.release_manifests.save(manifest, tx.clock.now())
    return manifest


async def declared_resources(
    uow: UnitOfWorkFactory, tenant_id: str, plugin: str, version: str
) -> tuple[Resources | None, str]:
    """What the version declared it needs in its latest recorded check for the tenant.

    (None, "") when no check of it was recorded; (None, check id) when the
    latest one declared nothing.
    """
    require_tenant_id(tenant_id)
    require_package_name(plugin, "plugin")
    require_version(version, "version")
    async with uow(tenant_id) as tx:
        latest = await tx.checks.latest(plugin, version)
    if latest is None:
        return None, ""
    return latest.resources, latest.check_id


async def set_permission_policy(
    uow: UnitOfWorkFactory, policy: PermissionPolicy
) -> PermissionPolicy:
    """Stores the tenant's permission policy, replacing the previous one."""
    require_tenant_id(policy.tenant_id)
    async with uow(policy.tenant_id) as tx:
        await tx.permission_policies.save(policy, tx.clock.now())
    return policy


async def stream_check(
    uow: UnitOfWorkFactory,
    tenant_id: str,
    plugin: PluginRequirements,
    *,
    singletons: frozenset[str] = DEFAULT_SINGLETONS,
) -> AsyncIterator[DimensionReport | CompatCheck]:
    """Yield each dimension's report as it is decided, then the recorded check.

    The host's state is read in one transaction and the check is recorded
    (with its event) in another, so no transaction stays open while a caller
    reads the stream; a caller that stops reading before the end records
    nothing. The check is a snapshot of the state read at its start.
    """
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        host = await tx.host_profiles.get(tenant_id)
        if host is None:
            raise UnknownHostProfileError(tenant_id)
        release = host.backstage_version
        state = HostState(
            host,
            await tx.api_catalogs.get(tenant_id, release),
            await tx.release_manifests.get(tenant_id, release),
            await tx.permission_policies.get(tenant_id),
            await tx.tenant_resources.get(tenant_id),
        )
        installed = None
        if plugin.installed_version:
            last = await tx.checks.latest(plugin.plugin, plugin.installed_version)
            installed = Installed(plugin.installed_version, last)
    dimensions = []
    for _, step in dimension_steps(state, plugin, installed, singletons):
        report = step()
        dimensions.append(report)
        yield report
    async with uow(tenant_id) as tx:
        check = record(str(uuid.uuid4()), tenant_id, plugin, tuple(dimensions), tx.clock.now())
        await tx.checks.add(check)
        await tx.publish([CompatChecked.of(check)])
    yield check


async def check_compatibility(
    uow: UnitOfWorkFactory,
    tenant_id: str,
    plugin: PluginRequirements,
    *,
    singletons: frozenset[str] = DEFAULT_SINGLETONS,
) -> CompatCheck:
    """Checks a plugin version against the tenant's host, records the verdict and emits it.

    Input is validated before anything is opened, so a malformed request
    changes nothing; an incompatible plugin is recorded and emitted like a
    compatible one, with the findings that say why.
    """
    check = None
    # Read to the end, so the stream finishes (and commits) here rather than at GC.
    async for item in stream_check(uow, tenant_id, plugin, singletons=singletons):
        if isinstance(item, CompatCheck):
            check = item
    if check is None:  # pragma: no cover - stream_check always ends with the check
        raise RuntimeError("stream_check ended without recording a check")
    return check
