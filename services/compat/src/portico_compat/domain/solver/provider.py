"""resolvelib provider over a package catalog, with npm ranges and a budget."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import nodesemver
from resolvelib import AbstractProvider, BaseReporter

from portico_compat.domain.ranges import satisfies
from portico_compat.domain.solver.model import (
    PackageCatalog,
    PackageVersion,
    Requirement,
    RequirementKind,
)

if TYPE_CHECKING:
    from resolvelib.structs import RequirementInformation

    Information = RequirementInformation[Requirement, PackageVersion]
else:
    Information = Any


@functools.lru_cache(maxsize=262_144)
def matches(version: str, range_: str) -> bool:
    """npm's satisfies, memoised: the solver asks the same pair many times."""
    return satisfies(version, range_).ok


@functools.lru_cache(maxsize=65_536)
def _version_key(version: str) -> Any:
    return nodesemver.make_semver(version, False)


def _by_precedence(a: PackageVersion, b: PackageVersion) -> int:
    return int(_version_key(b.version).compare(_version_key(a.version)))


def newest_first(versions: Iterable[PackageVersion]) -> list[PackageVersion]:
    """Sort by npm precedence, newest first (catalog adapters keep only valid versions)."""
    return sorted(versions, key=functools.cmp_to_key(_by_precedence))


class DeadlineExceeded(Exception):  # noqa: N818 - internal signal, never leaves the solver
    """The provider's time budget ran out; raised through resolvelib to the solver."""


class CountingReporter(BaseReporter[Requirement, PackageVersion, str]):
    """Counts rounds and remembers which candidate first asked for each package."""

    def __init__(self) -> None:
        self.rounds = 0
        self.required_by: dict[str, PackageVersion] = {}
        self._roots: set[str] = set()

    def starting_round(self, index: int) -> None:
        self.rounds = index + 1

    def adding_requirement(self, requirement: Requirement, parent: PackageVersion | None) -> None:
        # Roots come first; a root pulled in again through a cycle keeps no parent.
        if parent is None:
            self._roots.add(requirement.name)
        elif requirement.name != parent.name and requirement.name not in self._roots:
            self.required_by.setdefault(requirement.name, parent)


class CatalogProvider(AbstractProvider[Requirement, PackageVersion, str]):
    """Candidates newest first, except an installed version, which is tried first."""

    def __init__(
        self,
        catalog: PackageCatalog,
        *,
        installed: Mapping[str, str],
        prefer_installed: bool,
        is_singleton: Callable[[str], bool],
        now: Callable[[], float],
        deadline: float,
    ) -> None:
        self._catalog = catalog
        self._installed = installed
        self._prefer_installed = prefer_installed
        self._is_singleton = is_singleton
        self._now = now
        self._deadline = deadline
        self._sorted: dict[str, list[PackageVersion]] = {}
        self.steps = 0

    def versions(self, name: str) -> list[PackageVersion]:
        found = self._sorted.get(name)
        if found is None:
            self._tick()
            found = newest_first(self._catalog.versions(name))
            self._sorted[name] = found
        return found

    def _tick(self) -> None:
        self.steps += 1
        if self._now() > self._deadline:
            raise DeadlineExceeded

    def identify(self, requirement_or_candidate: Requirement | PackageVersion) -> str:
        return requirement_or_candidate.name

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, PackageVersion],  # noqa: ARG002 - resolvelib's signature
        candidates: Mapping[str, Iterator[PackageVersion]],  # noqa: ARG002 - resolvelib's signature
        information: Mapping[str, Iterator[Information]],
        backtrack_causes: Sequence[Information],
    ) -> tuple[bool, bool, bool, str]:
        infos = list(information[identifier])
        # Work first on what just caused a conflict, then on exact pins, then roots.
        in_conflict = any(c.requirement.name == identifier for c in backtrack_causes)
        pinned = any(i.requirement.range_ == self._installed.get(identifier) for i in infos)
        root = any(i.parent is None for i in infos)
        return (not in_conflict, not pinned, not root, identifier)

    def narrow_requirement_selection(
        self,
        identifiers: Iterable[str],
        resolutions: Mapping[str, PackageVersion],  # noqa: ARG002 - resolvelib's signature
        candidates: Mapping[str, Iterator[PackageVersion]],  # noqa: ARG002 - resolvelib's signature
        information: Mapping[str, Iterator[Information]],
        backtrack_causes: Sequence[Information],
    ) -> Iterable[str]:
        # A host pins hundreds of installed packages; weighing all of them every
        # round is quadratic, so exact pins (one candidate each) go one by one.
        names = list(identifiers)
        causes = {c.requirement.name for c in backtrack_causes}
        hot = [n for n in names if n in causes]
        if hot:
            return hot
        for name in names:
            pin = self._installed.get(name)
            if pin is not None and any(i.requirement.range_ == pin for i in information[name]):
                return [name]
        return names

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement]],
        incompatibilities: Mapping[str, Iterator[PackageVersion]],
    ) -> list[PackageVersion]:
        self._tick()
        ranges = [r.range_ for r in requirements[identifier]]
        bad = {c.version for c in incompatibilities[identifier]}
        found = [
            c
            for c in self.versions(identifier)
            if c.version not in bad and all(matches(c.version, r) for r in ranges)
        ]
        current = self._installed.get(identifier)
        if self._prefer_installed and current is not None:
            # Fewest changes: keep what is installed when it still fits.
            found.sort(key=lambda c: c.version != current)
        return found

    def is_satisfied_by(self, requirement: Requirement, candidate: PackageVersion) -> bool:
        return matches(candidate.version, requirement.range_)

    def get_dependencies(self, candidate: PackageVersion) -> list[Requirement]:
        self._tick()
        needed: list[Requirement] = []
        for name, range_ in candidate.peer_dependencies.items():
            if name != candidate.name:
                needed.append(Requirement(name, range_, RequirementKind.PEER))
        for name, range_ in candidate.dependencies.items():
            if name == candidate.name or name in candidate.peer_dependencies:
                continue
            # npm nests a private copy of an ordinary package when ranges disagree,
            # so only singletons and packages the catalog knows are solved flat.
            if self._is_singleton(name) or self.versions(name):
                needed.append(Requirement(name, range_, RequirementKind.DEPENDENCY))
        return needed
