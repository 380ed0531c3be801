"""The API dimension: host APIs and extension points a plugin consumes and provides.

A tenant records, per Backstage release, the host's API catalog: each API's
version, whether it is deprecated (and why), and whether the release removed
it. A plugin declares what it consumes (with npm ranges over the API version)
and what it provides. The check reports, per consumed API, whether it is
missing, removed, out of range or deprecated; on an upgrade it also reports
the breaking changes against the installed version's last check: an API the
installed version used that this host has dropped, and an API the installed
version provided that the new one no longer provides (its consumers break).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from portico_compat.domain.compatibility import (
    Dimension,
    DimensionReport,
    Finding,
    check_range,
    dimension_report,
)
from portico_compat.domain.ranges import version_problem
from portico_compat.domain.report import ReportDimension, Verdict
from portico_compat.errors import InvalidApiCatalogError, InvalidPluginError

MAX_API_NAME_LENGTH = 200
# Larger than any real host; keeps a catalog row and a check bounded.
MAX_CATALOG_APIS = 5000
MAX_DECLARED_APIS = 500
MAX_TEXT_LENGTH = 2000


def api_name_problem(name: str) -> str | None:
    """Why `name` cannot name an API (e.g. "core.discovery" or "catalog.processing"), or None."""
    if not name.strip():
        return "an API name is empty"
    if name != name.strip() or any(c.isspace() for c in name):
        return f"API name {name[:80]!r} contains whitespace"
    if len(name) > MAX_API_NAME_LENGTH:
        return f"API name {name[:80]!r}... is longer than {MAX_API_NAME_LENGTH} characters"
    return None


@dataclass(frozen=True, slots=True)
class ApiRequirement:
    """An API a plugin consumes, with an npm range over its version ("" means any)."""

    name: str
    range: str = ""


@dataclass(frozen=True, slots=True)
class ApiProvision:
    """An API a plugin provides, at a version."""

    name: str
    version: str


def validate_declared_apis(
    consumes: Sequence[ApiRequirement], provides: Sequence[ApiProvision]
) -> None:
    """Raise InvalidPluginError for a malformed or duplicated API declaration."""
    if len(consumes) + len(provides) > MAX_DECLARED_APIS:
        raise InvalidPluginError(
            "apis", f"{len(consumes) + len(provides)} declared; at most {MAX_DECLARED_APIS}"
        )
    for kind, names in (
        ("consumes", [c.name for c in consumes]),
        ("provides", [p.name for p in provides]),
    ):
        seen: set[str] = set()
        for name in names:
            problem = api_name_problem(name)
            if problem is not None:
                raise InvalidPluginError(kind, problem)
            if name in seen:
                raise InvalidPluginError(kind, f"API {name!r} is declared twice")
            seen.add(name)
    for requirement in consumes:
        if len(requirement.range) > MAX_TEXT_LENGTH:
            raise InvalidPluginError("consumes", f"the range of {requirement.name!r} is too long")
    for provision in provides:
        problem = version_problem(provision.version)
        if problem is not None:
            raise InvalidPluginError(
                "provides", f"{provision.name!r} version {provision.version[:80]!r}: {problem}"
            )


@dataclass(frozen=True, slots=True)
class HostApi:
    """One API of a release's catalog."""

    name: str
    version: str
    deprecation: str = ""
    removed: bool = False
    replacement: str = ""


@dataclass(frozen=True, slots=True)
class HostApiCatalog:
    """A tenant's host API catalog for one Backstage release; validated on construction."""

    tenant_id: str
    backstage_release: str
    apis: Mapping[str, HostApi] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problem = version_problem(self.backstage_release)
        if problem is not None:
            raise InvalidApiCatalogError(
                "backstage_release", f"{self.backstage_release[:80]!r}: {problem}"
            )
        if len(self.apis) > MAX_CATALOG_APIS:
            raise InvalidApiCatalogError("apis", f"{len(self.apis)}; at most {MAX_CATALOG_APIS}")
        for key, api in self.apis.items():
            problem = api_name_problem(api.name)
            if problem is not None:
                raise InvalidApiCatalogError("apis", problem)
            if key != api.name:
                raise InvalidApiCatalogError("apis", f"{key!r} is keyed under another name")
            problem = version_problem(api.version)
            if problem is not None:
                raise InvalidApiCatalogError(
                    "apis", f"{api.name!r} version {api.version[:80]!r}: {problem}"
                )
            if max(len(api.deprecation), len(api.replacement)) > MAX_TEXT_LENGTH:
                raise InvalidApiCatalogError("apis", f"{api.name!r} has an over-long text")
        object.__setattr__(self, "apis", MappingProxyType(dict(self.apis)))

    @classmethod
    def of(cls, tenant_id: str, release: str, apis: Sequence[HostApi]) -> HostApiCatalog:
        """A catalog from a list, refusing an API listed twice."""
        keyed: dict[str, HostApi] = {}
        for api in apis:
            if api.name in keyed:
                raise InvalidApiCatalogError("apis", f"{api.name!r} is listed twice")
            keyed[api.name] = api
        return cls(tenant_id, release, keyed)


@dataclass(frozen=True, slots=True)
class ApiBaseline:
    """What the installed version consumed and provided, from its last recorded check."""

    version: str
    consumes: tuple[ApiRequirement, ...]
    provides: tuple[ApiProvision, ...]


def check_apis(
    catalog: HostApiCatalog | None,
    release: str,
    consumes: Sequence[ApiRequirement],
    provides: Sequence[ApiProvision],
    baseline: ApiBaseline | None = None,
) -> DimensionReport:
    """The API dimension of a report (see the module docstring)."""
    findings: list[Finding] = []
    if catalog is None and consumes:
        findings.append(
            Finding(
                Dimension.API,
                "host API catalog",
                "",
                release,
                satisfied=False,
                reason=(
                    f"no host API catalog is recorded for Backstage {release}, so the "
                    f"{len(consumes)} consumed APIs cannot be verified;"
                    " set it with SetHostApiCatalog"
                ),
            )
        )
    elif catalog is not None:
        findings += [_consumed(catalog, requirement) for requirement in consumes]
    if baseline is not None:
        findings += _breaking(catalog, consumes, provides, baseline)
    return dimension_report(ReportDimension.API, findings, empty="no host APIs consumed")


def _consumed(catalog: HostApiCatalog, requirement: ApiRequirement) -> Finding:
    name, range_ = requirement.name, requirement.range
    api = catalog.apis.get(name)
    release = catalog.backstage_release
    if api is None:
        return Finding(
            Dimension.API,
            name,
            range_,
            "",
            satisfied=False,
            reason=f"missing: Backstage {release} has no API {name!r}",
        )
    instead = f"; use {api.replacement!r} instead" if api.replacement else ""
    if api.removed:
        return Finding(
            Dimension.API,
            name,
            range_,
            api.version,
            satisfied=False,
            reason=f"removed in Backstage {release}{instead}",
        )
    check = check_range(api.version, range_)
    if not check.ok:
        return Finding(
            Dimension.API, name, range_, api.version, satisfied=False, reason=check.reason
        )
    if api.deprecation:
        return Finding(
            Dimension.API,
            name,
            range_,
            api.version,
            satisfied=True,
            reason=f"deprecated: {api.deprecation}{instead}",
            verdict=Verdict.WARN,
        )
    return Finding(Dimension.API, name, range_, api.version, satisfied=True, reason=check.reason)


def _breaking(
    catalog: HostApiCatalog | None,
    consumes: Sequence[ApiRequirement],
    provides: Sequence[ApiProvision],
    baseline: ApiBaseline,
) -> list[Finding]:
    findings: list[Finding] = []
    still_used = {c.name for c in consumes}
    for old in baseline.consumes:
        api = catalog.apis.get(old.name) if catalog is not None else None
        if api is not None and not api.removed:
            continue
        if old.name in still_used:
            # Reported above as missing or removed; the upgrade does not fix it.
            continue
        findings.append(
            Finding(
                Dimension.API,
                old.name,
                old.range,
                "",
                satisfied=True,
                verdict=Verdict.WARN,
                reason=(
                    f"breaking change on upgrade: installed {baseline.version} uses {old.name!r},"
                    " which this host has dropped; the new version no longer needs it"
                ),
            )
        )
    now_provided = {p.name: p.version for p in provides}
    for old_provision in baseline.provides:
        new_version = now_provided.get(old_provision.name)
        if new_version is None:
            reason = (
                f"breaking change on upgrade: installed {baseline.version} provides "
                f"{old_provision.name!r} {old_provision.version}; the new version drops it"
            )
        elif not check_range(new_version, f"^{old_provision.version}").ok:
            reason = (
                f"breaking change on upgrade: {old_provision.name!r} goes from "
                f"{old_provision.version} to {new_version}, outside ^{old_provision.version}"
            )
        else:
            continue
        # Who consumes it is not known here, so the break is surfaced, not judged.
        findings.append(
            Finding(
                Dimension.API,
                old_provision.name,
                "",
                new_version or "",
                satisfied=True,
                reason=reason,
                verdict=Verdict.WARN,
            )
        )
    return findings
