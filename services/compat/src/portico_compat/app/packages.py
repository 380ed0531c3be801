"""Use cases on a package as a team has it: check it, and ask what it needs or what fits.

A package comes as its package.json, as an `npm pack` tarball, or as
`name@version` looked up in the npm catalog. Catalog calls block (the
registry adapter is synchronous), so they run in a worker thread.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from portico_common.npm import package_name_problem, published_version_problem
from portico_common.tenants import require_tenant_id
from portico_compat.app import handlers
from portico_compat.app.ports import CompatUnitOfWork, PackageJsonCatalog, UnitOfWorkFactory
from portico_compat.domain.checks import CompatCheck, HostState
from portico_compat.domain.fit import NewestFit, RequiredRelease, newest_fitting, required_release
from portico_compat.domain.installs import DEFAULT_SINGLETONS
from portico_compat.domain.packages import (
    package_json_of_tarball,
    requirements_from_package_json,
    requirements_of,
)
from portico_compat.domain.plugins import PluginRequirements
from portico_compat.errors import (
    InvalidPackageError,
    InvalidPluginError,
    UnknownHostProfileError,
    UnknownPackageError,
)


@dataclass(frozen=True, slots=True)
class PackageInput:
    """Exactly one of: package.json text, tarball bytes, or `name@version`."""

    package_json: str = ""
    tarball: bytes = b""
    spec: str = ""

    @property
    def source(self) -> str:
        """How the package was given, for the report ("package.json", "tarball", "npm")."""
        if self.tarball:
            return "tarball"
        return "npm" if self.spec else "package.json"


def parse_spec(spec: str) -> tuple[str, str]:
    """`name@version` (the name may be scoped); the version must be exact, as published."""
    at = spec.rfind("@")
    if at <= 0:
        raise InvalidPackageError("spec", f"{spec[:100]!r} is not name@version")
    name, version = spec[:at], spec[at + 1 :]
    problem = published_version_problem(version)
    if problem is not None:
        raise InvalidPackageError("spec", f"{spec[:100]!r}: the version {problem}")
    return name, version


class PackageChecks:
    """Checks and fit questions on packages, against a tenant's recorded host."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        catalog: PackageJsonCatalog,
        *,
        singletons: frozenset[str] = DEFAULT_SINGLETONS,
    ) -> None:
        self._uow = uow
        self._catalog = catalog
        self.singletons = singletons

    async def read(self, given: PackageInput, *, installed_version: str = "") -> PluginRequirements:
        """The requirements of the package given; InvalidPackageError if it cannot be read."""
        given_count = sum(1 for part in (given.package_json, given.tarball, given.spec) if part)
        if given_count != 1:
            raise InvalidPackageError(
                "package", "give exactly one of package_json, tarball and spec (name@version)"
            )
        if given.package_json:
            return requirements_from_package_json(
                given.package_json, installed_version=installed_version
            )
        if given.tarball:
            return requirements_from_package_json(
                package_json_of_tarball(given.tarball), installed_version=installed_version
            )
        name, version = parse_spec(given.spec)
        document = await asyncio.to_thread(self._catalog.package_json, name, version)
        if document is None:
            raise UnknownPackageError(f"version {version} of {name!r}")
        return requirements_of(document, installed_version=installed_version)

    async def check(
        self, tenant_id: str, given: PackageInput, *, installed_version: str = ""
    ) -> tuple[PluginRequirements, CompatCheck]:
        """Read the package, then check, record and emit it as CheckCompatibility does."""
        require_tenant_id(tenant_id)
        plugin = await self.read(given, installed_version=installed_version)
        check = await handlers.check_compatibility(
            self._uow, tenant_id, plugin, singletons=self.singletons
        )
        return plugin, check

    async def required_release(
        self, tenant_id: str, given: PackageInput
    ) -> tuple[PluginRequirements, RequiredRelease]:
        """The plugin on the host now and on every release the tenant has a manifest of."""
        require_tenant_id(tenant_id)
        plugin = await self.read(given)
        async with self._uow(tenant_id) as tx:
            state = await _host_state(tx, tenant_id)
            manifests = await tx.release_manifests.all_for(tenant_id)
        return plugin, required_release(state.host, manifests, plugin, state, self.singletons)

    async def newest_fitting(self, tenant_id: str, plugin: str) -> tuple[str, NewestFit]:
        """The host's release, and the catalog's versions of `plugin` newest first down to
        the first that fits it."""
        require_tenant_id(tenant_id)
        problem = package_name_problem(plugin)
        if problem is not None:
            raise InvalidPluginError("name", problem)
        async with self._uow(tenant_id) as tx:
            state = await _host_state(tx, tenant_id)
        versions = await asyncio.to_thread(self._catalog.versions, plugin)
        if not versions:
            raise UnknownPackageError(f"package {plugin!r}")
        return state.host.backstage_version, newest_fitting(state, versions, self.singletons)


async def _host_state(tx: CompatUnitOfWork, tenant_id: str) -> HostState:
    host = await tx.host_profiles.get(tenant_id)
    if host is None:
        raise UnknownHostProfileError(tenant_id)
    manifest = await tx.release_manifests.get(tenant_id, host.backstage_version)
    return HostState(host, release_manifest=manifest)
