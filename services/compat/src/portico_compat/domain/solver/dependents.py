"""Which installed plugins need a package version that is going away, and in what order.

A plugin needs the version when it puts a range on the package (a peer range
wins over a dependency range, as npm reads them) that the installed version
satisfies and the previous one does not: going back would leave it outside
its range. No previous version (a first install going away) leaves every
plugin that requires the package outside. A dependent found that way goes
back too, so the plugins that need *its* version are dependents as well
(depth n+1); the walk stops where nothing new is found, cycles included.

The order is the rollback order: deepest first (a plugin always deeper than
any dependent it needs), then by name, so no plugin goes back before one
that needs it and the answer is the same on every call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from portico_compat.domain.solver.model import PackageCatalog, PackageVersion
from portico_compat.domain.solver.provider import matches as npm_matches


@dataclass(frozen=True, slots=True)
class Installed:
    """A package at its installed version, and the version it would go back to ("" none)."""

    name: str
    version: str
    previous_version: str = ""


@dataclass(frozen=True, slots=True)
class Dependent:
    """An installed plugin that needs `needs` (a "name version") within `range_`."""

    name: str
    version: str
    needs: str
    range_: str
    kind: str
    depth: int


@dataclass(frozen=True, slots=True)
class Dependents:
    """The dependents in rollback order, and the installed packages the catalog lacks."""

    dependents: tuple[Dependent, ...]
    unknown: tuple[str, ...]


def dependents_of(
    catalog: PackageCatalog,
    installed: Mapping[str, Installed],
    going: Installed,
    *,
    matches: Callable[[str, str], bool] = npm_matches,
) -> Dependents:
    """The plugins of `installed` that need `going` at its version; see the module docstring."""
    manifests: dict[str, PackageVersion] = {}
    unknown: list[str] = []
    for package in installed.values():
        if package.name == going.name:
            continue
        found = next(
            (v for v in catalog.versions(package.name) if v.version == package.version), None
        )
        if found is None:
            unknown.append(f"{package.name} {package.version}")
        else:
            manifests[package.name] = found
    found_by_name: dict[str, Dependent] = {}
    frontier = [going]
    depth = 0
    while frontier:
        depth += 1
        nxt: list[Installed] = []
        for target in frontier:
            for name, manifest in sorted(manifests.items()):
                if name in found_by_name or name == going.name:
                    continue
                dependent = _needs(manifest, target, depth, matches)
                if dependent is not None:
                    found_by_name[name] = dependent
                    nxt.append(installed[name])
        frontier = nxt
    ordered = sorted(found_by_name.values(), key=lambda d: (-d.depth, d.name))
    return Dependents(tuple(_deepen(ordered, manifests, matches)), tuple(sorted(unknown)))


def _needs(
    manifest: PackageVersion,
    target: Installed,
    depth: int,
    matches: Callable[[str, str], bool],
) -> Dependent | None:
    range_ = manifest.requirement_on(target.name)
    if range_ is None or not matches(target.version, range_):
        return None
    if target.previous_version and matches(target.previous_version, range_):
        return None
    kind = "peer" if target.name in manifest.peer_dependencies else "dependency"
    return Dependent(
        name=manifest.name,
        version=manifest.version,
        needs=f"{target.name} {target.version}",
        range_=range_,
        kind=kind,
        depth=depth,
    )


def _deepen(
    ordered: list[Dependent],
    manifests: Mapping[str, PackageVersion],
    matches: Callable[[str, str], bool],
) -> list[Dependent]:
    """Raises each dependent's depth above every dependent it needs, then re-sorts.

    The breadth-first walk gives each plugin its shortest path; a plugin that
    needs both the package and one of its dependents must still go back
    first, so its depth is the longest path (bounded: at most one raise per
    dependent and round, and a cycle stops growing after len(dependents) rounds).
    """
    depth = {d.name: d.depth for d in ordered}
    by_name = {d.name: d for d in ordered}
    for _ in range(len(ordered)):
        changed = False
        for dependent in ordered:
            manifest = manifests[dependent.name]
            for other in ordered:
                if other.name == dependent.name:
                    continue
                range_ = manifest.requirement_on(other.name)
                if range_ is not None and matches(other.version, range_):
                    wanted = depth[other.name] + 1
                    if wanted > depth[dependent.name]:
                        depth[dependent.name] = wanted
                        changed = True
        if not changed:
            break
    raised = [
        Dependent(d.name, d.version, d.needs, d.range_, d.kind, depth[d.name])
        for d in by_name.values()
    ]
    return sorted(raised, key=lambda d: (-d.depth, d.name))
