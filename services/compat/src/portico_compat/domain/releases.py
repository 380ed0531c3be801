"""Backstage release manifests: the exact version of every package a release ships.

Backstage publishes, per release, the version of every package that belongs to
it (the release manifest behind `backstage-cli versions:bump`): mostly
`@backstage/*`, but not only (`@techdocs/cli` is in every recent one), so any
valid npm package name is accepted. What a plugin's ranges make of those
versions is `installs`' business.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from portico_common.npm import package_name_problem
from portico_common.npm import version_problem as npm_version_problem
from portico_compat.domain.ranges import version_problem
from portico_compat.errors import InvalidReleaseManifestError

# Backstage's own scope: a release manifest is the authority on these packages.
SCOPE = "@backstage/"
# Backstage releases list a few hundred packages.
MAX_PACKAGES = 5000


@dataclass(frozen=True, slots=True)
class ReleaseManifest:
    """Release -> the exact version of each package it ships; validated on construction."""

    tenant_id: str
    backstage_release: str
    packages: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problem = version_problem(self.backstage_release)
        if problem is not None:
            raise InvalidReleaseManifestError(
                "backstage_release", f"{self.backstage_release[:80]!r}: {problem}"
            )
        if not self.packages:
            raise InvalidReleaseManifestError("packages", "a release lists at least one package")
        if len(self.packages) > MAX_PACKAGES:
            raise InvalidReleaseManifestError(
                "packages", f"{len(self.packages)}; at most {MAX_PACKAGES}"
            )
        for name, version in self.packages.items():
            problem = package_name_problem(name, new_package=False)
            if problem is not None:
                raise InvalidReleaseManifestError("packages", problem)
            problem = npm_version_problem(version)
            if problem is not None:
                raise InvalidReleaseManifestError(
                    "packages", f"{name!r} version {version[:80]!r}: {problem}"
                )
        object.__setattr__(self, "packages", MappingProxyType(dict(self.packages)))


# A published manifest lists a few hundred packages in well under a megabyte.
MAX_PUBLISHED_BYTES = 2 * 1024 * 1024


def parse_published_manifest(tenant_id: str, release: str, document: str) -> ReleaseManifest:
    """A manifest from the JSON document Backstage publishes for a release.

    The shape is `{"releaseVersion": "1.31.0", "packages": [{"name": ..., "version":
    ...}]}`; its release must be the one it is stored under, and every package is
    validated as in `ReleaseManifest`. Anything else is InvalidReleaseManifestError.
    """
    if len(document.encode()) > MAX_PUBLISHED_BYTES:
        raise InvalidReleaseManifestError(
            "published_manifest", f"larger than {MAX_PUBLISHED_BYTES} bytes"
        )
    try:
        data = json.loads(document)
    except json.JSONDecodeError as exc:
        raise InvalidReleaseManifestError(
            "published_manifest", f"not JSON: {exc.msg} at line {exc.lineno}"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("packages"), list):
        raise InvalidReleaseManifestError(
            "published_manifest", "expected an object with a 'packages' list"
        )
    published = data.get("releaseVersion")
    if published != release:
        raise InvalidReleaseManifestError(
            "published_manifest", f"is for release {published!r}, not {release!r}"
        )
    packages: dict[str, str] = {}
    for entry in data["packages"]:
        name = entry.get("name") if isinstance(entry, dict) else None
        version = entry.get("version") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not isinstance(version, str):
            raise InvalidReleaseManifestError(
                "published_manifest", "each package needs a string 'name' and 'version'"
            )
        if packages.setdefault(name, version) != version:
            raise InvalidReleaseManifestError(
                "published_manifest", f"{name!r} is listed with two versions"
            )
    return ReleaseManifest(tenant_id, release, packages)
