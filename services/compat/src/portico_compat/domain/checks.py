"""A compatibility check as it is recorded: who asked, about what, and the report.

The check runs dimension by dimension (api, runtime, permissions, resources) so that a
caller can stream each verdict as it is decided; the report is the same
whether it was streamed or not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from portico_compat.domain.apis import (
    ApiBaseline,
    ApiProvision,
    ApiRequirement,
    HostApiCatalog,
    check_apis,
)
from portico_compat.domain.compatibility import (
    CompatReport,
    DimensionReport,
    HostProfile,
    dimension_report,
    engine_findings,
)
from portico_compat.domain.installs import (
    DEFAULT_SINGLETONS,
    HostPackages,
    duplicates_of,
    install_findings,
)
from portico_compat.domain.permissions import (
    PermissionBaseline,
    PermissionPolicy,
    check_permissions,
)
from portico_compat.domain.plugins import PluginRequirements
from portico_compat.domain.releases import ReleaseManifest
from portico_compat.domain.report import ReportDimension
from portico_compat.domain.resources import Resources, TenantResources, resources_report


@dataclass(frozen=True, slots=True)
class CompatCheck:
    """One check of one plugin version against one tenant's host, at one moment.

    It keeps what the version declared (APIs, permissions), so that a later
    check of an upgrade from this version has a baseline to compare with.
    """

    check_id: str
    tenant_id: str
    plugin: str
    version: str
    report: CompatReport
    created_at: datetime
    consumes: tuple[ApiRequirement, ...] = ()
    provides: tuple[ApiProvision, ...] = ()
    permissions: tuple[str, ...] = ()
    resources: Resources | None = None

    @property
    def compatible(self) -> bool:
        return self.report.compatible


@dataclass(frozen=True, slots=True)
class HostState:
    """Everything recorded about the tenant's host that a check reads."""

    host: HostProfile
    api_catalog: HostApiCatalog | None = None
    release_manifest: ReleaseManifest | None = None
    permission_policy: PermissionPolicy | None = None
    # The tenant's quota and usage as compat's projection of tenancy holds them.
    tenant_resources: TenantResources = field(default_factory=TenantResources)


@dataclass(frozen=True, slots=True)
class Installed:
    """The version an upgrade starts from, and its last recorded check (None if none)."""

    version: str
    last_check: CompatCheck | None


DimensionStep = tuple[ReportDimension, Callable[[], DimensionReport]]


def runtime_report(
    state: HostState,
    plugin: PluginRequirements,
    singletons: frozenset[str] = DEFAULT_SINGLETONS,
) -> DimensionReport:
    """Engines, then peers and dependencies as npm would install them next to the host.

    The summary ends with what the duplicates npm nests cost, when there are any.
    """
    host = state.host
    findings = engine_findings(host, plugin.engines)
    findings += install_findings(
        HostPackages(host.backstage_version, host.packages, state.release_manifest),
        plugin.dependencies,
        plugin.peer_dependencies,
        optional_peers=plugin.optional_peers,
        singletons=singletons,
    )
    report = dimension_report(ReportDimension.RUNTIME, findings, empty="no runtime requirements")
    cost = duplicates_of(findings).describe()
    if not cost:
        return report
    return DimensionReport(
        report.dimension, report.verdict, f"{report.summary}; {cost}", report.findings
    )


def dimension_steps(
    state: HostState,
    plugin: PluginRequirements,
    installed: Installed | None = None,
    singletons: frozenset[str] = DEFAULT_SINGLETONS,
) -> Iterator[DimensionStep]:
    """The dimensions of a check, in order, each computed when called."""
    host = state.host

    def api() -> DimensionReport:
        baseline = None
        if installed is not None and installed.last_check is not None:
            last = installed.last_check
            baseline = ApiBaseline(installed.version, last.consumes, last.provides)
        return check_apis(
            state.api_catalog, host.backstage_version, plugin.consumes, plugin.provides, baseline
        )

    def runtime() -> DimensionReport:
        return runtime_report(state, plugin, singletons)

    def permissions() -> DimensionReport:
        baseline = None
        if installed is not None:
            last = installed.last_check
            known = frozenset(last.permissions) if last is not None else None
            baseline = PermissionBaseline(installed.version, known)
        return check_permissions(state.permission_policy, plugin.permissions, baseline)

    def resources() -> DimensionReport:
        # An upgrade frees what the installed version holds and keeps its plugin slot.
        # Without a check of the installed version, what it holds is unknown: it is
        # then counted as a new install (one more slot, nothing freed), failing safe.
        replacing = None
        if installed is not None and installed.last_check is not None:
            replacing = installed.last_check.resources or Resources()
        return resources_report(plugin.resources, state.tenant_resources, replacing=replacing)

    yield ReportDimension.API, api
    yield ReportDimension.RUNTIME, runtime
    yield ReportDimension.PERMISSIONS, permissions
    yield ReportDimension.RESOURCES, resources


def record(
    check_id: str,
    tenant_id: str,
    plugin: PluginRequirements,
    dimensions: tuple[DimensionReport, ...],
    now: datetime,
) -> CompatCheck:
    """The check made of the dimension reports a run produced."""
    return CompatCheck(
        check_id,
        tenant_id,
        plugin.plugin,
        plugin.version,
        CompatReport.of(dimensions),
        now,
        plugin.consumes,
        plugin.provides,
        plugin.permissions,
        plugin.resources,
    )


def run_check(
    check_id: str,
    host: HostProfile | HostState,
    plugin: PluginRequirements,
    now: datetime,
    installed: Installed | None = None,
    *,
    singletons: frozenset[str] = DEFAULT_SINGLETONS,
) -> CompatCheck:
    """Check `plugin` against the host; an incompatible plugin is a verdict, not an error."""
    state = host if isinstance(host, HostState) else HostState(host)
    steps = dimension_steps(state, plugin, installed, singletons)
    dimensions = tuple(step() for _, step in steps)
    return record(check_id, state.host.tenant_id, plugin, dimensions, now)
