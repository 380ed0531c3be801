"""Which release does a plugin need, and which version of a plugin fits a host?

A plugin fits a host when its runtime dimension does not fail: engines met,
peers in range, and no second copy of a singleton (duplicates of anything else
only warn). The other dimensions (APIs, permissions, resources) do not depend
on the version pair asked about here, so they are left to the full check.

- For a plugin version: the earliest release, among the manifests the tenant
  knows, on which it fits. The host moves to that release as
  `backstage-cli versions:bump` moves it: every package the release ships takes
  the release's version; packages it does not ship (React, the router) stay as
  the host's profile has them, and so does Node.
- For a plugin: the newest published version (prereleases aside, as npm's
  `latest` leaves them aside) that fits the host as it is.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import nodesemver

from portico_compat.domain.checks import HostState, runtime_report
from portico_compat.domain.compatibility import DimensionReport, HostProfile
from portico_compat.domain.installs import DEFAULT_SINGLETONS
from portico_compat.domain.plugins import PluginRequirements
from portico_compat.domain.releases import ReleaseManifest
from portico_compat.domain.report import Verdict
from portico_compat.domain.solver import PackageVersion
from portico_compat.domain.solver.provider import newest_first
from portico_compat.errors import CompatError

# A plugin has a few hundred versions at most; the search is bounded whatever the catalog.
MAX_VERSIONS_TRIED = 500


@dataclass(frozen=True, slots=True)
class ReleaseFit:
    """How a plugin fares on one release: the runtime dimension decides."""

    release: str
    runtime: DimensionReport

    @property
    def fits(self) -> bool:
        return self.runtime.verdict is not Verdict.FAIL


@dataclass(frozen=True, slots=True)
class RequiredRelease:
    """The host's release now, every known release (oldest first) and the earliest that fits."""

    current: ReleaseFit
    releases: tuple[ReleaseFit, ...]

    @property
    def earliest(self) -> ReleaseFit | None:
        return next((fit for fit in self.releases if fit.fits), None)


@dataclass(frozen=True, slots=True)
class VersionFit:
    """One version of a plugin on the host as it is."""

    version: str
    runtime: DimensionReport | None
    # Why the version could not be checked at all (a package.json npm would refuse).
    unreadable: str = ""

    @property
    def fits(self) -> bool:
        return self.runtime is not None and self.runtime.verdict is not Verdict.FAIL


@dataclass(frozen=True, slots=True)
class NewestFit:
    """The versions tried, newest first, down to the first that fits."""

    tried: tuple[VersionFit, ...]

    @property
    def found(self) -> VersionFit | None:
        return next((fit for fit in self.tried if fit.fits), None)


def on_release(host: HostProfile, manifest: ReleaseManifest) -> HostState:
    """The host moved to `manifest`'s release: its packages, the rest as they were."""
    kept = {name: v for name, v in host.packages.items() if name not in manifest.packages}
    moved = HostProfile(host.tenant_id, manifest.backstage_release, host.node_version, kept)
    return HostState(moved, release_manifest=manifest)


def required_release(
    host: HostProfile,
    manifests: Iterable[ReleaseManifest],
    plugin: PluginRequirements,
    current: HostState,
    singletons: frozenset[str] = DEFAULT_SINGLETONS,
) -> RequiredRelease:
    """The plugin on the host's current state and on each known release, oldest first."""
    ordered = sorted(manifests, key=functools.cmp_to_key(_by_release))
    fits = tuple(
        ReleaseFit(m.backstage_release, runtime_report(on_release(host, m), plugin, singletons))
        for m in ordered
    )
    now = ReleaseFit(host.backstage_version, runtime_report(current, plugin, singletons))
    return RequiredRelease(now, fits)


def newest_fitting(
    state: HostState,
    versions: Iterable[PackageVersion],
    singletons: frozenset[str] = DEFAULT_SINGLETONS,
) -> NewestFit:
    """Try published versions newest first until one fits `state`'s host."""
    tried: list[VersionFit] = []
    for candidate in newest_first(v for v in versions if not _is_prerelease(v.version)):
        if len(tried) >= MAX_VERSIONS_TRIED:
            break
        try:
            plugin = PluginRequirements(
                candidate.name,
                candidate.version,
                engines=candidate.engines,
                peer_dependencies=candidate.peer_dependencies,
                dependencies=candidate.dependencies,
                optional_peers=candidate.optional_peers,
            )
        except CompatError as exc:
            tried.append(VersionFit(candidate.version, None, str(exc)))
            continue
        fit = VersionFit(candidate.version, runtime_report(state, plugin, singletons))
        tried.append(fit)
        if fit.fits:
            break
    return NewestFit(tuple(tried))


def _by_release(a: ReleaseManifest, b: ReleaseManifest) -> int:
    return int(nodesemver.compare(a.backstage_release, b.backstage_release, False))


def _is_prerelease(version: str) -> bool:
    return bool(nodesemver.make_semver(version, False).prerelease)
