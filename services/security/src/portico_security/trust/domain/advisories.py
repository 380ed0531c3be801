"""OSV advisories for npm packages: the model, version-range semantics, matching.

Ranges follow the OSV schema's evaluation (https://ossf.github.io/osv-schema/):
events of a SEMVER or ECOSYSTEM range are sorted by version ("introduced: 0"
first); walking them, `introduced <= v` turns the range on, `fixed <= v` and
`last_affected < v` turn it off, and `limit <= v` excludes v from the whole
range. A version listed in `versions` is affected whatever the ranges say.
GIT ranges name commits, not versions, and are ignored for matching.

For npm both range types compare by semantic-version precedence
(node-semver's compare, strict): prereleases sort before their release
(1.0.0-beta.2 < 1.0.0-beta.10 < 1.0.0) and build metadata is ignored. These
are OSV events, not npm range expressions, so npm's rule that a range skips
prereleases of other release tuples does not apply. Parsing is `osv.py`'s.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import nodesemver


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    version: str


@dataclass(frozen=True, slots=True)
class Range:
    type: str
    events: tuple[Event, ...]

    def includes(self, version: str) -> bool:
        if self.type == "GIT":
            return False
        limits = [e.version for e in self.events if e.kind == "limit"]
        if any(_cmp(version, limit) >= 0 for limit in limits):
            return False
        affected = False
        for event in sorted(self.events, key=_event_order):
            if event.kind == "introduced":
                if event.version == "0" or _cmp(version, event.version) >= 0:
                    affected = True
            elif event.kind == "fixed":
                if _cmp(version, event.version) >= 0:
                    affected = False
            elif event.kind == "last_affected" and _cmp(version, event.version) > 0:
                affected = False
        return affected

    @property
    def fixed(self) -> tuple[str, ...]:
        return tuple(e.version for e in self.events if e.kind == "fixed")


@dataclass(frozen=True, slots=True)
class Affected:
    package: str
    ranges: tuple[Range, ...]
    versions: frozenset[str]

    def includes(self, version: str) -> bool:
        return version in self.versions or any(r.includes(version) for r in self.ranges)

    @property
    def fixed_versions(self) -> tuple[str, ...]:
        found = {v for r in self.ranges if r.type != "GIT" for v in r.fixed}
        return tuple(sorted(found, key=_SortKey))


@dataclass(frozen=True, slots=True)
class Severity:
    score: float
    label: str
    vector: str = ""


UNKNOWN_SEVERITY = Severity(score=0.0, label="UNKNOWN")


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    modified: datetime
    summary: str
    aliases: tuple[str, ...]
    published: datetime | None
    withdrawn: datetime | None
    severity: Severity
    affected: tuple[Affected, ...]
    # The document as imported, kept verbatim for the record.
    document: Mapping[str, Any] = field(compare=False, repr=False)

    @property
    def packages(self) -> frozenset[str]:
        return frozenset(a.package for a in self.affected)

    def affects(self, package: str, version: str) -> Affected | None:
        """The affected entry that covers package@version, or None."""
        for entry in self.affected:
            if entry.package == package and entry.includes(version):
                return entry
        return None


@dataclass(frozen=True, slots=True)
class AdvisoryMatch:
    advisory_id: str
    aliases: tuple[str, ...]
    summary: str
    package: str
    version: str
    direct: bool
    severity: Severity
    fixed_versions: tuple[str, ...]
    upgrade_to: str


def match_packages(
    advisories: Iterable[Advisory], packages: Sequence[tuple[str, str, bool]]
) -> list[AdvisoryMatch]:
    """Every (advisory, package) pair where the advisory covers the package's version.

    `packages` holds (name, exact version, direct); withdrawn advisories never
    match. Sorted by severity (worst first), then package and advisory id.
    """
    by_package: dict[str, list[Advisory]] = {}
    for advisory in advisories:
        if advisory.withdrawn is None:
            for package in advisory.packages:
                by_package.setdefault(package, []).append(advisory)
    matches = []
    for name, version, direct in packages:
        for advisory in by_package.get(name, ()):
            entry = advisory.affects(name, version)
            if entry is None:
                continue
            fixed = entry.fixed_versions
            above = [f for f in fixed if _cmp(f, version) > 0]
            matches.append(
                AdvisoryMatch(
                    advisory_id=advisory.id,
                    aliases=advisory.aliases,
                    summary=advisory.summary,
                    package=name,
                    version=version,
                    direct=direct,
                    severity=advisory.severity,
                    fixed_versions=fixed,
                    upgrade_to=above[0] if above else "",
                )
            )
    matches.sort(key=lambda m: (-m.severity.score, m.package, m.version, m.advisory_id))
    return matches


def _cmp(left: str, right: str) -> int:
    return int(_semver(left).compare(_semver(right)))


def _event_order(event: Event) -> tuple[int, _SortKey]:
    # "introduced: 0" precedes every version; otherwise by version.
    return (0, _SortKey("0.0.0")) if event.version == "0" else (1, _SortKey(event.version))


class _SortKey:
    """Orders versions by semver precedence (for sorted())."""

    __slots__ = ("version",)

    def __init__(self, version: str) -> None:
        self.version = version

    def __lt__(self, other: _SortKey) -> bool:
        return _cmp(self.version, other.version) < 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SortKey) and _cmp(self.version, other.version) == 0

    __hash__ = None  # type: ignore[assignment]


@functools.lru_cache(maxsize=65_536)
def _semver(version: str) -> Any:
    # Parsing dominates matching; SemVer objects are immutable, so caching is safe.
    return nodesemver.make_semver(version, False)
