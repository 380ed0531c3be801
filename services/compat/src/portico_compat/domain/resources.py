"""The resources dimension: what a plugin version requests against the tenant's quota.

The API, all of it::

    check_resources(requested, quota, usage, *, replacing=None) -> ResourceCheck

- `requested`: `Resources(cpu_millicores, memory_mib, storage_mib)` that the
  plugin version declares it needs (zeros when it declares nothing).
- `quota`, `usage`: the tenant's `Quota` and `Usage`, or None when unknown.
  compat keeps them in a projection fed by tenancy's `tenant.quota.updated`
  and `tenant.usage.updated` events; read both in the check's transaction
  with `PgTenantResourcesRepository(conn).get(tenant_id)` (adapters/
  tenant_resources.py), which answers a `TenantResources(quota, usage)`.
- `replacing`: for an upgrade, what the installed version holds now; it is
  freed by the upgrade and the plugin keeps its slot. None for an install,
  which takes one more plugin slot against `max_plugins`.

It returns a `ResourceCheck`: `compatible` (every finding satisfied) and
one `ResourceFinding` per resource, in the order cpu, memory, storage,
plugins, each with its evidence: `requested`, `available`, `quota`, `used`
(`available = quota - used + freed`, never below 0), `satisfied`, and a
one-line `reason`. `ResourceFinding.required` and `.host` render the
evidence as two short strings for the report's generic finding fields.

Unknown quota or usage fails safe: every finding is unsatisfied and says
which is unknown, so the check is not compatible until tenancy has
published both (SetQuota, RecordUsage). Not "needs approval": an approver
could only guess at a limit nobody set, and the fix is one RPC away. The
same holds when the projection has a quota but no usage report yet: zero
usage is not assumed.

Bad `requested` figures (negative, absurd, not integers) raise
InvalidPluginError: they are a malformed request, not a verdict.

For the report, one more call turns it into the dimension::

    resources_report(requested, known, *, replacing=None) -> DimensionReport

with `known` the projection's `TenantResources`. Its findings are the
report's `Finding(Dimension.RESOURCES, name, required_range=f.required,
host_version=f.host, satisfied, reason)`. `requested=None` means the plugin
declares no resources at all: the dimension then passes with no findings
("no resources declared"), so plugins that predate resource declarations
keep their verdicts; declare zeros to have the plugin slot and an unknown
quota checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from portico_compat.domain.compatibility import (
    Dimension,
    DimensionReport,
    Finding,
    dimension_report,
)
from portico_compat.domain.report import ReportDimension
from portico_compat.errors import InvalidPluginError

# The same ceiling tenancy enforces on any figure (a million cores, an exbibyte).
MAX_AMOUNT = 10**12


class Resource(StrEnum):
    """What a finding measures; the value is the finding's name."""

    CPU = "cpu"
    MEMORY = "memory"
    STORAGE = "storage"
    PLUGINS = "plugins"

    @property
    def unit(self) -> str:
        return _UNITS[self]


_UNITS = {
    Resource.CPU: "millicores",
    Resource.MEMORY: "MiB",
    Resource.STORAGE: "MiB",
    Resource.PLUGINS: "plugins",
}


@dataclass(frozen=True, slots=True)
class Resources:
    """An amount of compute and storage: CPU in millicores, memory and storage in MiB."""

    cpu_millicores: int = 0
    memory_mib: int = 0
    storage_mib: int = 0

    def __post_init__(self) -> None:
        for name in ("cpu_millicores", "memory_mib", "storage_mib"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidPluginError("resources", f"{name} must be an integer, not {value!r}")
            if not 0 <= value <= MAX_AMOUNT:
                raise InvalidPluginError(
                    "resources", f"{name} must be between 0 and {MAX_AMOUNT}, not {value}"
                )

    def amount(self, resource: Resource) -> int:
        """The amount of `resource` (cpu, memory or storage)."""
        return {
            Resource.CPU: self.cpu_millicores,
            Resource.MEMORY: self.memory_mib,
            Resource.STORAGE: self.storage_mib,
        }[resource]


@dataclass(frozen=True, slots=True)
class Quota:
    """The tenant's limits as tenancy last published them (`revision` orders updates)."""

    limits: Resources
    max_plugins: int
    revision: int = 0


@dataclass(frozen=True, slots=True)
class Usage:
    """The tenant's current usage as tenancy last published it (absolute totals)."""

    used: Resources
    plugins: int
    revision: int = 0


@dataclass(frozen=True, slots=True)
class TenantResources:
    """What compat knows of one tenant's quota and usage; None where nothing arrived yet."""

    quota: Quota | None = None
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class ResourceFinding:
    """One resource: what is requested, what is left, and whether it fits.

    `available`, `quota` and `used` are None when tenancy has not published them.
    """

    resource: Resource
    requested: int
    available: int | None
    quota: int | None
    used: int | None
    satisfied: bool
    reason: str

    @property
    def name(self) -> str:
        return self.resource.value

    @property
    def required(self) -> str:
        """The request as text, e.g. "500 millicores"."""
        return f"{self.requested} {self.resource.unit}"

    @property
    def host(self) -> str:
        """What the tenant has, e.g. "1500 of 4000 millicores available (2500 used)"."""
        if self.quota is None or self.used is None or self.available is None:
            return "unknown"
        return f"{self.available} of {self.quota} {self.resource.unit} available ({self.used} used)"


@dataclass(frozen=True, slots=True)
class ResourceCheck:
    """The resources dimension: compatible only if every finding is satisfied."""

    findings: tuple[ResourceFinding, ...]

    @property
    def compatible(self) -> bool:
        return all(f.satisfied for f in self.findings)

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why the plugin does not fit, one line per unsatisfied finding."""
        return tuple(f"{f.name}: {f.reason}" for f in self.findings if not f.satisfied)


_RESOURCES = (Resource.CPU, Resource.MEMORY, Resource.STORAGE)


def check_resources(
    requested: Resources,
    quota: Quota | None,
    usage: Usage | None,
    *,
    replacing: Resources | None = None,
) -> ResourceCheck:
    """Check `requested` against `quota` minus `usage` (see the module docstring)."""
    slots = 0 if replacing is not None else 1
    if quota is None or usage is None:
        missing = _unknown(quota, usage)
        findings = [
            ResourceFinding(r, requested.amount(r), None, None, None, False, missing)
            for r in _RESOURCES
        ]
        findings.append(ResourceFinding(Resource.PLUGINS, slots, None, None, None, False, missing))
        return ResourceCheck(tuple(findings))
    freed = replacing or Resources()
    findings = [
        _finding(
            r, requested.amount(r), quota.limits.amount(r), usage.used.amount(r), freed.amount(r)
        )
        for r in _RESOURCES
    ]
    findings.append(_finding(Resource.PLUGINS, slots, quota.max_plugins, usage.plugins, 0))
    return ResourceCheck(tuple(findings))


def resources_report(
    requested: Resources | None,
    known: TenantResources,
    *,
    replacing: Resources | None = None,
) -> DimensionReport:
    """The resources dimension of a compat report (see the module docstring)."""
    if requested is None:
        return dimension_report(ReportDimension.RESOURCES, [], empty="no resources declared")
    check = check_resources(requested, known.quota, known.usage, replacing=replacing)
    findings = [
        Finding(Dimension.RESOURCES, f.name, f.required, f.host, f.satisfied, f.reason)
        for f in check.findings
    ]
    return dimension_report(ReportDimension.RESOURCES, findings, empty="no resources declared")


def _unknown(quota: Quota | None, usage: Usage | None) -> str:
    what = " and ".join(
        name for name, value in (("quota", quota), ("usage", usage)) if value is None
    )
    calls = " and ".join(
        call for call, value in (("SetQuota", quota), ("RecordUsage", usage)) if value is None
    )
    return (
        f"tenant {what} unknown: tenancy has published none for this tenant,"
        f" so nothing can be checked against it (set it with {calls})"
    )


def _finding(
    resource: Resource, requested: int, limit: int, used: int, freed: int
) -> ResourceFinding:
    # An upgrade frees what the installed version holds, but never more than is used.
    held = used - min(freed, used)
    available = max(0, limit - held)
    unit = resource.unit
    satisfied = requested <= available
    verb = "fits in" if satisfied else "exceeds"
    reason = f"{requested} {unit} requested {verb} the {available} available"
    reason += f" (quota {limit}, used {used}"
    reason += f", {min(freed, used)} freed by the upgrade)" if freed else ")"
    if held > limit:
        reason += f"; the tenant is already {held - limit} {unit} over its quota"
    return ResourceFinding(resource, requested, available, limit, used, satisfied, reason)
