"""Does a plugin version's package.json fit a tenant's host?

Two dimensions are checked, each the way npm itself checks it:

- runtime: `engines.node` against the host's Node.js and `engines.backstage`
  against its Backstage release, with prereleases included, as npm's
  `checkEngine` does (so a Node nightly still meets `>=18`);
- peer: each `peerDependencies` range against the version the host has
  installed, in loose mode, as npm's arborist does when it validates an edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from portico_common.npm import package_name_problem, shown
from portico_common.npm import version_problem as npm_version_problem
from portico_compat.domain.ranges import RangeCheck, satisfies, version_problem
from portico_compat.domain.report import ReportDimension, Verdict, blocks, worst
from portico_compat.errors import InvalidHostProfileError, InvalidPluginError

NOT_INSTALLED = "not installed on the host"
UNKNOWN_ENGINE = "not checked: unknown engine"
# No real range comes near this; parsing is kept bounded for any input.
MAX_RANGE_LENGTH = 1024


class Dimension(StrEnum):
    """What kind of requirement a finding is about."""

    RUNTIME = "runtime"
    PEER = "peer"
    # A @backstage/* package against the tenant's Backstage release manifest.
    RELEASE = "release"
    # A `dependencies` entry against the host's copy (a mismatch nests a duplicate).
    DEPENDENCY = "dependency"
    API = "api"
    PERMISSIONS = "permissions"
    RESOURCES = "resources"

    @property
    def report_dimension(self) -> ReportDimension:
        """The report dimension a finding of this kind belongs to."""
        if self in {Dimension.RUNTIME, Dimension.PEER, Dimension.RELEASE, Dimension.DEPENDENCY}:
            return ReportDimension.RUNTIME
        return ReportDimension(self.value)


@dataclass(frozen=True, slots=True)
class HostProfile:
    """The versions a tenant's portal host runs; validated on construction."""

    tenant_id: str
    backstage_version: str
    node_version: str
    packages: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.tenant_id.strip():
            raise InvalidHostProfileError("tenant_id", "must not be empty")
        _require_version("backstage_version", self.backstage_version)
        _require_version("node_version", self.node_version)
        for name, version in self.packages.items():
            if not name.strip():
                raise InvalidHostProfileError("packages", "a package name is empty")
            problem = package_name_problem(name, new_package=False)
            if problem is not None:
                raise InvalidHostProfileError("packages", problem)
            problem = npm_version_problem(version)
            if problem is not None:
                raise InvalidHostProfileError(
                    f"packages[{name!r}]", f"{shown(version)} is not a valid version: {problem}"
                )
        # A read-only copy: a profile must not change under a check that uses it.
        object.__setattr__(self, "packages", MappingProxyType(dict(self.packages)))


@dataclass(frozen=True, slots=True)
class Finding:
    """One requirement of the plugin, and whether the host meets it."""

    dimension: Dimension
    name: str
    required_range: str
    host_version: str
    satisfied: bool
    reason: str
    # PASS or FAIL from `satisfied` unless given (WARN, NEEDS_APPROVAL).
    verdict: Verdict | None = None

    def __post_init__(self) -> None:
        if self.verdict is None:
            object.__setattr__(self, "verdict", Verdict.PASS if self.satisfied else Verdict.FAIL)

    @property
    def outcome(self) -> Verdict:
        """The verdict, never None after construction."""
        return self.verdict if self.verdict is not None else Verdict.FAIL


@dataclass(frozen=True, slots=True)
class DimensionReport:
    """One dimension of a report: its verdict, a summary, and the evidence."""

    dimension: ReportDimension
    verdict: Verdict
    summary: str
    findings: tuple[Finding, ...] = ()


def dimension_report(
    dimension: ReportDimension, findings: list[Finding], *, empty: str
) -> DimensionReport:
    """Sum findings up: the worst verdict wins; the summary counts what is not a pass."""
    verdict = worst(f.outcome for f in findings)
    if not findings:
        return DimensionReport(dimension, verdict, empty, ())
    counts = {v: sum(1 for f in findings if f.outcome is v) for v in Verdict}
    parts = [f"{counts[v]} {v.label.replace('_', ' ')}" for v in reversed(Verdict) if counts[v]]
    return DimensionReport(
        dimension, verdict, f"{len(findings)} checked: {', '.join(parts)}", tuple(findings)
    )


@dataclass(frozen=True, slots=True)
class CompatReport:
    """The verdict of a compatibility check: compatible only if every finding is satisfied.

    With dimensions, compatible means no dimension fails or needs approval.
    """

    compatible: bool
    findings: tuple[Finding, ...]
    dimensions: tuple[DimensionReport, ...] = ()

    @property
    def approval_required(self) -> bool:
        return any(d.verdict is Verdict.NEEDS_APPROVAL for d in self.dimensions)

    @classmethod
    def of(cls, dimensions: tuple[DimensionReport, ...]) -> CompatReport:
        """The report made of `dimensions`: its findings are theirs, in order."""
        return cls(
            compatible=not any(blocks(d.verdict) for d in dimensions),
            findings=tuple(f for d in dimensions for f in d.findings),
            dimensions=dimensions,
        )

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why the plugin does not fit, one line per unsatisfied finding."""
        return tuple(
            f"{f.dimension} {f.name}: {f.reason}" for f in self.findings if not f.satisfied
        )


def check_compatibility(
    host: HostProfile,
    plugin: str,
    version: str,
    engines: Mapping[str, str],
    peer_dependencies: Mapping[str, str],
) -> CompatReport:
    """Check a plugin version's `engines` and `peerDependencies` against `host`.

    Raises InvalidPluginError when the plugin is unnamed or its version is not
    semver; a requirement the host fails, or a range that cannot be parsed,
    is an unsatisfied finding, not an error.
    """
    if not plugin.strip():
        raise InvalidPluginError("name", "must not be empty")
    problem = npm_version_problem(version)
    if problem is not None:
        raise InvalidPluginError("version", f"{version!r} is not a valid version: {problem}")

    findings = [_runtime_finding(host, name, range_) for name, range_ in sorted(engines.items())]
    findings += [
        _peer_finding(host, name, range_) for name, range_ in sorted(peer_dependencies.items())
    ]
    return CompatReport(
        compatible=all(f.satisfied for f in findings),
        findings=tuple(findings),
    )


def runtime_findings(
    host: HostProfile, engines: Mapping[str, str], peer_dependencies: Mapping[str, str]
) -> list[Finding]:
    """The engine and peer findings of `check_compatibility`, without a verdict."""
    findings = engine_findings(host, engines)
    findings += [
        _peer_finding(host, name, range_) for name, range_ in sorted(peer_dependencies.items())
    ]
    return findings


def engine_findings(host: HostProfile, engines: Mapping[str, str]) -> list[Finding]:
    """`engines.node` and `engines.backstage` against the host; other engines are not checked."""
    return [_runtime_finding(host, name, range_) for name, range_ in sorted(engines.items())]


def _runtime_finding(host: HostProfile, engine: str, range_: str) -> Finding:
    runtimes = {"node": host.node_version, "backstage": host.backstage_version}
    host_version = runtimes.get(engine)
    if host_version is None:
        # package.json may name engines we have no host version for (npm, yarn,
        # vscode...); npm itself ignores those, so they must not block a plugin.
        return Finding(Dimension.RUNTIME, engine, range_, "", satisfied=True, reason=UNKNOWN_ENGINE)
    check = _too_long(range_) or satisfies(host_version, range_, include_prerelease=True)
    return _finding(Dimension.RUNTIME, engine, range_, host_version, check)


def _peer_finding(host: HostProfile, package: str, range_: str) -> Finding:
    host_version = host.packages.get(package)
    if host_version is None:
        return Finding(Dimension.PEER, package, range_, "", satisfied=False, reason=NOT_INSTALLED)
    too_long = _too_long(range_)
    if too_long is not None:
        check = too_long
    elif range_.strip() in {"", "*"}:
        # arborist accepts any installed version for `*` (and "" means `*`),
        # prereleases included, before it asks semver anything.
        check = RangeCheck(ok=True, reason=f"{host_version} satisfies {range_!r}")
    else:
        check = satisfies(host_version, range_, loose=True)
    return _finding(Dimension.PEER, package, range_, host_version, check)


def _too_long(range_: str) -> RangeCheck | None:
    if len(range_) <= MAX_RANGE_LENGTH:
        return None
    return RangeCheck(ok=False, reason=f"invalid range: longer than {MAX_RANGE_LENGTH} characters")


def _finding(
    dimension: Dimension, name: str, range_: str, host_version: str, check: RangeCheck
) -> Finding:
    return Finding(dimension, name, range_, host_version, satisfied=check.ok, reason=check.reason)


def _require_version(field_name: str, version: str) -> None:
    problem = version_problem(version)
    if problem is not None:
        raise InvalidHostProfileError(field_name, f"{version!r} is not a valid version: {problem}")


def check_range(version: str, range_: str, *, loose: bool = False) -> RangeCheck:
    """`version` against `range_`, bounded in length; "" and "*" accept any version.

    `loose` reads ranges as arborist does for a peer edge.
    """
    too_long = _too_long(range_)
    if too_long is not None:
        return too_long
    if range_.strip() in {"", "*"}:
        return RangeCheck(ok=True, reason=f"{version} satisfies {range_ or '*'!r}")
    return satisfies(version, range_, loose=loose)
