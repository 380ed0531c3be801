"""What npm does with a plugin's peers and dependencies next to a tenant's host.

The host has a version of a package when its profile lists it, else when its
Backstage release's manifest does (the profile says what is installed; the
release says what `backstage-cli versions:bump` put there).

- `peerDependencies` are strict: the plugin uses the host's own copy, so the
  host must have it in range (an optional peer may be absent).
- `dependencies` are not: a range the host's version does not satisfy makes npm
  install a nested duplicate inside the plugin. That fails the check only for a
  package that must be single in an app (`SINGLETONS`): two copies of
  `@backstage/core-plugin-api` or `react` break the app at run time, because
  their state (API registries, React contexts, the router) is per copy. Any
  other duplicate works and is a warning with its cost: which packages, how many
  extra copies npm installs.
- A dependency the host does not have is simply installed: no finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from portico_compat.domain.compatibility import NOT_INSTALLED, Dimension, Finding, check_range
from portico_compat.domain.releases import SCOPE, ReleaseManifest
from portico_compat.domain.report import Verdict

# The packages of which a Backstage app must run exactly one copy (the default of
# the `singleton_packages` setting): each holds state its consumers share.
DEFAULT_SINGLETONS: frozenset[str] = frozenset(
    {
        # The plugin API registry and its ApiRefs (legacy frontend system).
        "@backstage/core-plugin-api",
        # Extensions, blueprints and the app's extension tree (new frontend system).
        "@backstage/frontend-plugin-api",
        # The app's API holder, routing and feature flags.
        "@backstage/core-app-api",
        # The global registry that lets different versions of the above meet.
        "@backstage/version-bridge",
        # Hooks and contexts break across two copies of React or its DOM renderer.
        "react",
        "react-dom",
        # One router context per app.
        "react-router-dom",
    }
)


@dataclass(frozen=True, slots=True)
class HostPackages:
    """The version of each package on the host, and where that version comes from."""

    release: str
    profile: Mapping[str, str]
    manifest: ReleaseManifest | None = None

    def version_of(self, name: str) -> tuple[str, str] | None:
        """`(version, source)`, or None if the host has none.

        `source` prefixes a reason: "Backstage 1.31.0 ships 1.9.4" for a version
        the release gives, "" for one the profile states (the version says it all).
        """
        version = self.profile.get(name)
        if version is not None:
            return version, ""
        if self.manifest is not None:
            version = self.manifest.packages.get(name)
            if version is not None:
                return version, f"Backstage {self.release} ships {version}"
        return None

    def knows_release(self) -> bool:
        return self.manifest is not None


@dataclass(frozen=True, slots=True)
class Duplicates:
    """What the nested copies a plugin brings cost: the packages and the copies."""

    packages: tuple[str, ...]

    @property
    def extra_copies(self) -> int:
        # One plugin nests one private copy of each package it cannot share.
        return len(self.packages)

    def describe(self) -> str:
        if not self.packages:
            return ""
        copies = "copy" if self.extra_copies == 1 else "copies"
        return f"npm installs {self.extra_copies} extra {copies} next to the host's: " + ", ".join(
            self.packages
        )


def install_findings(
    host: HostPackages,
    dependencies: Mapping[str, str],
    peer_dependencies: Mapping[str, str],
    *,
    optional_peers: Iterable[str] = (),
    singletons: frozenset[str] = DEFAULT_SINGLETONS,
) -> list[Finding]:
    """One finding per peer, and per dependency the host has; see the module docstring."""
    optional = frozenset(optional_peers)
    findings = [
        _peer(host, name, range_, optional=name in optional)
        for name, range_ in sorted(peer_dependencies.items())
    ]
    # A package that is both a peer and a dependency is used as a peer (npm's rule).
    for name, range_ in sorted(dependencies.items()):
        if name not in peer_dependencies:
            finding = _dependency(host, name, range_, singleton=name in singletons)
            if finding is not None:
                findings.append(finding)
    unchecked = _unchecked(host, dependencies, peer_dependencies)
    if unchecked:
        findings.append(
            Finding(
                Dimension.RELEASE,
                f"Backstage {host.release} release manifest",
                "",
                host.release,
                satisfied=True,
                verdict=Verdict.WARN,
                reason=(
                    f"not checked: no release manifest is recorded for Backstage {host.release},"
                    f" so {len(unchecked)} @backstage/* ranges were not lined up; set it with"
                    " SetReleaseManifest"
                ),
            )
        )
    return findings


def duplicates_of(findings: Iterable[Finding]) -> Duplicates:
    """The nested copies the findings say npm installs (failing singletons included)."""
    return Duplicates(
        tuple(
            f.name
            for f in findings
            if f.dimension is Dimension.DEPENDENCY and not f.satisfied and f.host_version
        )
    )


def _peer(host: HostPackages, name: str, range_: str, *, optional: bool) -> Finding:
    found = host.version_of(name)
    if found is None:
        if optional:
            return Finding(
                Dimension.PEER,
                name,
                range_,
                "",
                satisfied=True,
                reason="optional peer, not installed on the host",
            )
        missing = (
            f"not part of Backstage {host.release}"
            if name.startswith(SCOPE) and host.knows_release()
            else NOT_INSTALLED
        )
        return Finding(Dimension.PEER, name, range_, "", satisfied=False, reason=missing)
    version, source = found
    check = check_range(version, range_, loose=True)
    reason = check.reason
    if source:
        reason = f"{source}: {reason}" if check.ok else f"{source}, outside {range_!r}: {reason}"
    return Finding(Dimension.PEER, name, range_, version, satisfied=check.ok, reason=reason)


def _dependency(host: HostPackages, name: str, range_: str, *, singleton: bool) -> Finding | None:
    found = host.version_of(name)
    if found is None:
        return None
    version, source = found
    source = source or f"the host has {version}"
    check = check_range(version, range_)
    if check.ok:
        return Finding(
            Dimension.DEPENDENCY,
            name,
            range_,
            version,
            satisfied=True,
            reason=f"{source}: {check.reason}",
        )
    if singleton:
        return Finding(
            Dimension.DEPENDENCY,
            name,
            range_,
            version,
            satisfied=False,
            verdict=Verdict.FAIL,
            reason=(
                f"{source}, outside {range_!r}: npm would nest a second copy of {name}, which"
                " must be single in an app (two copies break it at run time)"
            ),
        )
    return Finding(
        Dimension.DEPENDENCY,
        name,
        range_,
        version,
        satisfied=False,
        verdict=Verdict.WARN,
        reason=f"{source}, outside {range_!r}: npm nests 1 extra copy of {name} inside the plugin",
    )


def _unchecked(
    host: HostPackages, dependencies: Mapping[str, str], peer_dependencies: Mapping[str, str]
) -> set[tuple[str, str]]:
    """The @backstage/* ranges a missing release manifest leaves unaligned with the release.

    The profile may list some of them, but only the manifest says they are the
    release's own versions.
    """
    if host.knows_release():
        return set()
    return {
        (name, range_)
        for source in (dependencies, peer_dependencies)
        for name, range_ in source.items()
        if name.startswith(SCOPE)
    }
