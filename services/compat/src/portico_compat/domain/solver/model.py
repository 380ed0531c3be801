"""What the solver reads (catalog entries, requirements) and what it answers."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# npm's own prefix for Backstage's core packages: a host runs one copy of each.
DEFAULT_SINGLETON_PREFIXES: tuple[str, ...] = ("@backstage/",)


@dataclass(frozen=True, slots=True)
class PackageVersion:
    """One published version of a package, as a registry's packument lists it."""

    name: str
    version: str
    dependencies: Mapping[str, str] = field(default_factory=dict)
    peer_dependencies: Mapping[str, str] = field(default_factory=dict)
    # Read by compatibility checks of catalog versions, not by the solver.
    engines: Mapping[str, str] = field(default_factory=dict)
    optional_peers: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"

    def requirement_on(self, name: str) -> str | None:
        """The range this version puts on `name` (peer ranges win), or None."""
        if name in self.peer_dependencies:
            return self.peer_dependencies[name]
        return self.dependencies.get(name)


class PackageCatalog(Protocol):
    """Where the solver learns which versions exist (a port; adapters fill it)."""

    def versions(self, name: str) -> Sequence[PackageVersion]:
        """Every published version of `name` (any order); empty when unknown."""


class RequirementKind(enum.StrEnum):
    REQUESTED = "requested"
    INSTALLED = "installed"
    DEPENDENCY = "dependency"
    PEER = "peer"


@dataclass(frozen=True, slots=True)
class Requirement:
    """`name` must be at a version in `range_`; `kind` says who asked, for wording."""

    name: str
    range_: str
    kind: RequirementKind

    def __str__(self) -> str:
        return f"{self.name} {self.range_}"


@dataclass(frozen=True, slots=True)
class Budget:
    """How much work one solve may do before it stops and says so."""

    max_rounds: int = 2_000
    max_seconds: float = 2.0


class ChangeKind(enum.StrEnum):
    UNCHANGED = "unchanged"
    ADDED = "added"
    UPGRADED = "upgraded"
    DOWNGRADED = "downgraded"


@dataclass(frozen=True, slots=True)
class ResolvedPackage:
    name: str
    version: str
    previous_version: str
    change: ChangeKind


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why no consistent set exists: a chain of reasons, a conclusion, ways out."""

    reasons: tuple[str, ...]
    conclusion: str
    suggestions: tuple[str, ...]
    # Installed packages that cannot stay as they are if the request goes ahead.
    broken_installed: tuple[str, ...]

    def text(self) -> str:
        """The reasons, one a line, the last joined to its conclusion and the ways out."""
        *chain, last = self.reasons or ("",)
        final = f"{last}, {self.conclusion}" if last else self.conclusion
        if self.suggestions:
            final += "; " + " or ".join(self.suggestions)
        return "\n".join([*chain, final])


@dataclass(frozen=True, slots=True)
class SolveStats:
    rounds: int
    steps: int
    seconds: float


@dataclass(frozen=True, slots=True)
class SolveOutcome:
    """A consistent set of versions, or (when `satisfiable` is false) the explanation."""

    satisfiable: bool
    packages: tuple[ResolvedPackage, ...]
    explanation: Explanation | None
    stats: SolveStats

    @property
    def changes(self) -> tuple[ResolvedPackage, ...]:
        return tuple(p for p in self.packages if p.change is not ChangeKind.UNCHANGED)


@dataclass(frozen=True, slots=True)
class BrokenPlugin:
    """An installed plugin an upgrade would break, why, and what would fix it."""

    name: str
    version: str
    reason: str
    suggestions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UpgradeImpact:
    """What upgrading one package does to the tenant, predicted before anyone runs it."""

    plugin: str
    target_range: str
    # True when the upgrade fits next to every installed version as it is.
    safe: bool
    broken: tuple[BrokenPlugin, ...]
    # The nearest consistent set when installed packages may move (empty if none).
    plan: tuple[ResolvedPackage, ...]
    explanation: Explanation | None
