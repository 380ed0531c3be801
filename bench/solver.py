"""Dependency solving on a generated catalog of 1,000 plugins x 10 versions.

Catalog: 30 `@backstage/*` core singletons (1.0-1.7, 2.0, 2.1) and 1,000
plugins with versions 1.0-1.4 and 2.0-2.4. Every plugin version peers on 2-4
core packages (a 1.x plugin on `^1.N`, a 2.x plugin on `^2.0.0`) and depends
on 0-4 other plugins (mostly lower-numbered, a few back-edges so that cycles
exist), pinned to their own major. The host runs every core at 1.7.0 and 15
plugins with everything they pull in (173 packages pinned), so a 2.x request
clashes with the installed cores or with an installed dependent.

Workloads: install a random plugin `^1.0.0` with upgrades allowed (mostly
satisfiable) and a random plugin `^2.0.0` with everything pinned
(unsatisfiable, explained). Portico = `portico_compat.domain.solver.solve`
(budget checks, installed-first preference, explanation). Baseline, same run,
same catalog, interleaved sample by sample: raw resolvelib (pip-style preference,
installed packages pinned exactly, the easier problem) with a
minimal provider and no explanation. Ratio = Portico / baseline.
Targets: p95 < 1 s satisfiable, p95 < 2 s unsatisfiable with explanation.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from resolvelib import (
    AbstractProvider,
    BaseReporter,
    ResolutionImpossible,
    ResolutionTooDeep,
    Resolver,
)

from bench.stats import percentile
from portico_compat.adapters.catalog_file import InMemoryCatalog
from portico_compat.domain.solver import Budget, PackageVersion, solve
from portico_compat.domain.solver.model import Requirement, RequirementKind
from portico_compat.domain.solver.provider import matches, newest_first

PLUGINS = 1_000
CORES = 30
SAMPLES = int(os.environ.get("BENCH_SOLVES", "100"))
SEED = 4
CORE_VERSIONS = [f"1.{m}.0" for m in range(8)] + ["2.0.0", "2.1.0"]
PLUGIN_VERSIONS = [f"{major}.{minor}.0" for major in (1, 2) for minor in range(5)]


def core(i: int) -> str:
    return f"@backstage/core-{i}"


def plugin(i: int) -> str:
    return f"@acme/plugin-{i}"


def generate(rng: random.Random) -> InMemoryCatalog:
    packages = [PackageVersion(core(c), v) for c in range(CORES) for v in CORE_VERSIONS]
    for p in range(PLUGINS):
        cores = rng.sample(range(CORES), rng.randint(2, 4))
        others = [rng.randrange(max(1, p)) for _ in range(rng.randint(0, 4)) if p > 0]
        if rng.random() < 0.02:
            others.append(rng.randrange(PLUGINS))  # a back-edge: cycles exist
        for version in PLUGIN_VERSIONS:
            major, minor = version.split(".")[:2]
            peer = f"^1.{min(int(minor) + rng.randint(0, 2), 7)}.0" if major == "1" else "^2.0.0"
            deps = {plugin(o): f"^{major}.0.0" for o in others if o != p}
            packages.append(
                PackageVersion(plugin(p), version, deps, {core(c): peer for c in cores})
            )
    return InMemoryCatalog(packages)


class RawProvider(AbstractProvider[Requirement, PackageVersion, str]):
    """The least a resolvelib provider needs: newest first, no budget, no explanation."""

    def __init__(self, catalog: InMemoryCatalog) -> None:
        self._catalog = catalog

    def identify(self, requirement_or_candidate: Requirement | PackageVersion) -> str:
        return requirement_or_candidate.name

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, PackageVersion],
        candidates: Mapping[str, Iterator[PackageVersion]],
        information: Mapping[str, Iterator[Any]],
        backtrack_causes: Sequence[Any],
    ) -> tuple[bool, bool, str]:
        # pip's two main rules: what just conflicted first, then root requirements.
        del resolutions, candidates
        in_conflict = any(c.requirement.name == identifier for c in backtrack_causes)
        root = any(i.parent is None for i in information[identifier])
        return (not in_conflict, not root, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement]],
        incompatibilities: Mapping[str, Iterator[PackageVersion]],
    ) -> Sequence[PackageVersion]:
        ranges = [r.range_ for r in requirements[identifier]]
        bad = {c.version for c in incompatibilities[identifier]}
        return [
            c
            for c in newest_first(self._catalog.versions(identifier))
            if c.version not in bad and all(matches(c.version, r) for r in ranges)
        ]

    def is_satisfied_by(self, requirement: Requirement, candidate: PackageVersion) -> bool:
        return matches(candidate.version, requirement.range_)

    def get_dependencies(self, candidate: PackageVersion) -> list[Requirement]:
        both = {**candidate.dependencies, **candidate.peer_dependencies}
        return [Requirement(n, r, RequirementKind.DEPENDENCY) for n, r in both.items()]


def raw_solve(
    catalog: InMemoryCatalog,
    installed: Mapping[str, str],
    requested: Mapping[str, str],
) -> bool:
    """Installed packages pinned exactly: without installed-first ordering, letting
    them move sent plain resolvelib into 100,000 rounds of backtracking here."""
    roots = [Requirement(n, r, RequirementKind.REQUESTED) for n, r in requested.items()]
    roots += [
        Requirement(n, v, RequirementKind.INSTALLED)
        for n, v in installed.items()
        if n not in requested
    ]
    resolver: Resolver[Requirement, PackageVersion, str] = Resolver(
        RawProvider(catalog), BaseReporter()
    )
    try:
        resolver.resolve(roots, max_rounds=100_000)
    except (ResolutionImpossible, ResolutionTooDeep):
        return False
    return True


def host(catalog: InMemoryCatalog, rng: random.Random) -> dict[str, str]:
    cores = {core(c): "1.7.0" for c in range(CORES)}
    picks = {plugin(p): "^1.0.0" for p in rng.sample(range(PLUGINS), 15)}
    outcome = solve(
        catalog,
        installed=cores,
        requested=picks,
        allow_upgrades=False,
        budget=Budget(max_rounds=100_000, max_seconds=60),
        now=time.perf_counter,
    )
    assert outcome.satisfiable, outcome.explanation
    return {p.name: p.version for p in outcome.packages}


def measure(
    catalog: InMemoryCatalog, installed: dict[str, str], requests: list[str], major: int
) -> tuple[list[float], list[float], list[float], list[float], int]:
    """Timings (ours sat, ours unsat, raw sat, raw unsat) and how many explanations were empty."""
    ours_ok: list[float] = []
    ours_bad: list[float] = []
    raw_ok: list[float] = []
    raw_bad: list[float] = []
    unexplained = 0
    pin = major == 2
    for name in requests:
        requested = {name: f"^{major}.0.0"}
        t0 = time.perf_counter()
        outcome = solve(
            catalog,
            installed=installed,
            requested=requested,
            allow_upgrades=not pin,
            budget=Budget(max_rounds=100_000, max_seconds=30),
            now=time.perf_counter,
        )
        t1 = time.perf_counter()
        raw_ok_now = raw_solve(catalog, installed, requested)
        t2 = time.perf_counter()
        (ours_ok if outcome.satisfiable else ours_bad).append(t1 - t0)
        (raw_ok if raw_ok_now else raw_bad).append(t2 - t1)
        if not outcome.satisfiable and (
            outcome.explanation is None or not outcome.explanation.reasons
        ):
            unexplained += 1
    return ours_ok, ours_bad, raw_ok, raw_bad, unexplained


def line(label: str, ours: list[float], raw: list[float], target: float) -> str:
    if not ours or not raw:
        return f"{label}: no samples (ours {len(ours)}, baseline {len(raw)})"
    o50, o95 = percentile(ours, 0.5) * 1000, percentile(ours, 0.95) * 1000
    r50, r95 = percentile(raw, 0.5) * 1000, percentile(raw, 0.95) * 1000
    verdict = "meets" if o95 < target * 1000 else "MISSES"
    return (
        f"{label}: portico n={len(ours)} p50={o50:.1f}ms p95={o95:.1f}ms | "
        f"raw resolvelib n={len(raw)} p50={r50:.1f}ms p95={r95:.1f}ms | "
        f"ratio p50={o50 / r50:.2f}x p95={o95 / r95:.2f}x | target p95<{target:g}s: {verdict}"
    )


async def main() -> None:
    rng = random.Random(SEED)  # noqa: S311 - reproducible test data, not secrets
    started = time.perf_counter()
    catalog = generate(rng)
    count = sum(len(catalog.versions(n)) for n in catalog.names())
    installed = host(catalog, rng)
    print(
        f"solver: catalog {PLUGINS} plugins + {CORES} cores, {count} versions"
        f" (generated in {time.perf_counter() - started:.2f}s); host has {len(installed)} packages"
    )
    targets = [plugin(p) for p in rng.sample(range(PLUGINS), SAMPLES)]
    ok, bad, raw_ok, raw_bad, _ = measure(catalog, installed, targets, major=1)
    ok2, bad2, raw_ok2, raw_bad2, unexplained = measure(catalog, installed, targets, major=2)
    print(line("satisfiable install (^1, upgrades allowed)", ok + ok2, raw_ok + raw_ok2, 1.0))
    print(line("unsatisfiable + explanation (^2, pinned)", bad + bad2, raw_bad + raw_bad2, 2.0))
    print(f"solver: {unexplained} unsatisfiable solves without reasons")
