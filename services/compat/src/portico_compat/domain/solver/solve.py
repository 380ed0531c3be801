"""Solve a tenant's dependencies, and predict what an upgrade would break."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from resolvelib import ResolutionImpossible, ResolutionTooDeep, Resolver

from portico_common.npm import package_name_problem, published_version_problem
from portico_compat.domain.ranges import range_problem
from portico_compat.domain.solver.errors import SolverBudgetExceededError, SolverInputError
from portico_compat.domain.solver.explain import Explainer, Party
from portico_compat.domain.solver.model import (
    DEFAULT_SINGLETON_PREFIXES,
    BrokenPlugin,
    Budget,
    ChangeKind,
    PackageCatalog,
    PackageVersion,
    Requirement,
    RequirementKind,
    ResolvedPackage,
    SolveOutcome,
    SolveStats,
    UpgradeImpact,
)
from portico_compat.domain.solver.provider import (
    CatalogProvider,
    CountingReporter,
    DeadlineExceeded,
    matches,
)

MAX_ROOTS = 500


def solve(
    catalog: PackageCatalog,
    *,
    installed: Mapping[str, str],
    requested: Mapping[str, str],
    allow_upgrades: bool,
    budget: Budget,
    now: Callable[[], float],
    singleton_prefixes: tuple[str, ...] = DEFAULT_SINGLETON_PREFIXES,
) -> SolveOutcome:
    """One consistent set of versions for installed + requested, or why none exists.

    Requested packages get their newest fitting version; installed ones keep
    their version when they can (`allow_upgrades`) or must (otherwise).
    Raises SolverBudgetExceededError instead of running past `budget`.
    """
    _validate(installed, requested)
    started = now()
    provider = CatalogProvider(
        catalog,
        installed=installed,
        prefer_installed=allow_upgrades,
        is_singleton=lambda name: name.startswith(singleton_prefixes),
        now=now,
        deadline=started + budget.max_seconds,
    )
    reporter = CountingReporter()
    roots = [Requirement(n, r, RequirementKind.REQUESTED) for n, r in sorted(requested.items())]
    for name, version in sorted(installed.items()):
        if name not in requested:
            range_ = f">={version}" if allow_upgrades else version
            roots.append(Requirement(name, range_, RequirementKind.INSTALLED))

    def stats() -> SolveStats:
        return SolveStats(rounds=reporter.rounds, steps=provider.steps, seconds=now() - started)

    def exceeded(kind: str, limit: float) -> SolverBudgetExceededError:
        s = stats()
        return SolverBudgetExceededError(kind, limit, s.rounds, s.steps, s.seconds)

    resolver: Resolver[Requirement, PackageVersion, str] = Resolver(provider, reporter)
    try:
        result = resolver.resolve(roots, max_rounds=budget.max_rounds)
    except ResolutionImpossible as impossible:
        causes = [Party(c.requirement, c.parent) for c in impossible.causes]
        explainer = Explainer(
            provider.versions,
            installed=installed,
            requested=requested,
            required_by=reporter.required_by,
        )
        try:
            explanation = explainer.explain(causes)
        except DeadlineExceeded:
            raise exceeded("time", budget.max_seconds) from None
        return SolveOutcome(False, (), explanation, stats())
    except ResolutionTooDeep:
        raise exceeded("rounds", budget.max_rounds) from None
    except DeadlineExceeded:
        raise exceeded("time", budget.max_seconds) from None
    packages = tuple(
        _resolved(name, candidate.version, installed.get(name))
        for name, candidate in sorted(result.mapping.items())
    )
    return SolveOutcome(True, packages, None, stats())


def predict_upgrade_impact(
    catalog: PackageCatalog,
    *,
    installed: Mapping[str, str],
    plugin: str,
    target_range: str,
    budget: Budget,
    now: Callable[[], float],
    singleton_prefixes: tuple[str, ...] = DEFAULT_SINGLETON_PREFIXES,
) -> UpgradeImpact:
    """What upgrading `plugin` to `target_range` breaks across the tenant, before it runs.

    Three kinds of solve share one budget: everything pinned as installed (is
    it safe as is?), the upgrade next to each installed plugin in turn (who
    exactly breaks?), and everything allowed to move (the nearest plan that
    works). Shared singletons are reported in the explanation, not as broken.
    """
    started = now()
    deadline = started + budget.max_seconds

    def run(pins: Mapping[str, str], *, allow_upgrades: bool) -> SolveOutcome:
        left = deadline - now()
        if left <= 0:
            raise SolverBudgetExceededError("time", budget.max_seconds, 0, 0, now() - started)
        return solve(
            catalog,
            installed=pins,
            requested={plugin: target_range},
            allow_upgrades=allow_upgrades,
            budget=Budget(max_rounds=budget.max_rounds, max_seconds=left),
            now=now,
            singleton_prefixes=singleton_prefixes,
        )

    strict = run(installed, allow_upgrades=False)
    broken: dict[str, BrokenPlugin] = {}
    if not strict.satisfiable:
        # Shared singletons move with the host release, so each plugin is tried
        # alone next to the upgrade: a clash then is that plugin's own.
        plugins = {
            n: v
            for n, v in installed.items()
            if n != plugin and not n.startswith(singleton_prefixes)
        }
        for name, version in sorted(plugins.items()):
            _collect(broken, run({name: version}, allow_upgrades=False), plugins)
        _collect(broken, strict, plugins)
    lenient = strict if strict.satisfiable else run(installed, allow_upgrades=True)
    return UpgradeImpact(
        plugin=plugin,
        target_range=target_range,
        safe=strict.satisfiable,
        broken=tuple(broken[n] for n in sorted(broken)),
        plan=lenient.packages if lenient.satisfiable else (),
        explanation=strict.explanation,
    )


def _collect(
    broken: dict[str, BrokenPlugin], outcome: SolveOutcome, installed: Mapping[str, str]
) -> None:
    explanation = outcome.explanation
    if explanation is None:
        return
    for label in explanation.broken_installed:
        name = label.rsplit(" ", 1)[0]
        if name not in broken and name in installed:
            broken[name] = BrokenPlugin(
                name=name,
                version=installed[name],
                reason=" ".join([*explanation.reasons, explanation.conclusion]),
                suggestions=explanation.suggestions,
            )


def _resolved(name: str, version: str, previous: str | None) -> ResolvedPackage:
    if previous is None:
        change = ChangeKind.ADDED
    elif previous == version:
        change = ChangeKind.UNCHANGED
    elif matches(previous, f"<{version}"):
        change = ChangeKind.UPGRADED
    else:
        change = ChangeKind.DOWNGRADED
    return ResolvedPackage(name, version, previous or "", change)


def _validate(installed: Mapping[str, str], requested: Mapping[str, str]) -> None:
    if len(installed) + len(requested) > MAX_ROOTS:
        raise SolverInputError(f"at most {MAX_ROOTS} installed and requested packages per solve")
    for name, version in installed.items():
        if not name:
            raise SolverInputError("an installed package has no name")
        problem = package_name_problem(name, new_package=False) or published_version_problem(
            version
        )
        if problem is not None:
            raise SolverInputError(f"installed {name}: {problem}")
    for name, range_ in requested.items():
        if not name:
            raise SolverInputError("a requested package has no name")
        problem = package_name_problem(name, new_package=False)
        if problem is not None:
            raise SolverInputError(f"requested {name}: {problem}")
        problem = range_problem(range_)
        if problem is not None:
            raise SolverInputError(f"requested {name}: invalid range {range_!r}: {problem}")
