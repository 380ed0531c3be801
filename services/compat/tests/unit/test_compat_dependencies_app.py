"""Dependency use cases: input rules, budgets, and upgrade-impact prediction."""

from __future__ import annotations

import pytest

from portico_common.tenants import InvalidTenantIdError
from portico_compat.adapters.catalog_file import InMemoryCatalog
from portico_compat.app.dependencies import DependencySolver
from portico_compat.domain.solver import Budget, ChangeKind, PackageVersion
from portico_compat.domain.solver.errors import SolverInputError

CORE = "@backstage/core-plugin-api"
TENANT = "acme"


def pv(
    name: str, version: str, deps: dict[str, str] | None = None, peers: dict[str, str] | None = None
) -> PackageVersion:
    return PackageVersion(name, version, deps or {}, peers or {})


@pytest.fixture
def solver() -> DependencySolver:
    catalog = InMemoryCatalog(
        [
            pv(CORE, "1.9.0"),
            pv(CORE, "2.0.0"),
            pv("@acme/plugin-a", "1.9.0", peers={CORE: "^1.9.0"}),
            pv("@acme/plugin-a", "2.0.0", peers={CORE: "^2.0.0"}),
            pv("@acme/plugin-c", "1.4.0", peers={CORE: "^1.9.0"}),
            pv("@acme/plugin-c", "2.0.0", peers={CORE: "^1.9.0 || ^2.0.0"}),
            pv("@acme/plugin-d", "3.0.0", peers={CORE: "^1.0.0"}),
        ]
    )
    return DependencySolver(catalog, budget=Budget(max_rounds=500, max_seconds=2.0))


INSTALLED = [
    (CORE, "1.9.0"),
    ("@acme/plugin-a", "1.9.0"),
    ("@acme/plugin-c", "1.4.0"),
    ("@acme/plugin-d", "3.0.0"),
]


async def test_solve_returns_the_consistent_set(solver: DependencySolver) -> None:
    """A request that fits is answered with every package and what changes."""
    outcome = await solver.solve_dependencies(
        TENANT, INSTALLED, [("@acme/plugin-c", "^2.0.0")], allow_upgrades=False, budget=Budget()
    )
    assert outcome.satisfiable
    assert [(p.name, p.version, p.change) for p in outcome.changes] == [
        ("@acme/plugin-c", "2.0.0", ChangeKind.UPGRADED)
    ]


async def test_predict_names_every_installed_plugin_an_upgrade_breaks(
    solver: DependencySolver,
) -> None:
    """Upgrading A to 2.x needs core 2, which breaks C 1.4 and D 3.0; C has a way out, D none."""
    impact = await solver.predict_upgrade_impact(
        TENANT, INSTALLED, "@acme/plugin-a", "^2.0.0", budget=Budget()
    )
    assert not impact.safe
    assert [b.name for b in impact.broken] == ["@acme/plugin-c", "@acme/plugin-d"]
    by_name = {b.name: b for b in impact.broken}
    assert "upgrade @acme/plugin-c to >= 2.0.0" in by_name["@acme/plugin-c"].suggestions
    assert "cannot be installed next to" in by_name["@acme/plugin-d"].reason
    assert impact.plan == ()


async def test_predict_calls_a_fitting_upgrade_safe(solver: DependencySolver) -> None:
    """An upgrade that fits next to everything installed is safe and breaks nothing."""
    impact = await solver.predict_upgrade_impact(
        TENANT, INSTALLED, "@acme/plugin-c", "^2.0.0", budget=Budget()
    )
    assert impact.safe
    assert impact.broken == ()
    assert impact.explanation is None
    assert ("@acme/plugin-c", "2.0.0") in [(p.name, p.version) for p in impact.plan]


def test_caller_budget_is_capped_by_the_servers(solver: DependencySolver) -> None:
    """A caller may ask for less than the server's budget, never for more; zero means default."""
    assert solver.budget_for(10, 100) == Budget(max_rounds=10, max_seconds=0.1)
    assert solver.budget_for(10**6, 10**6) == Budget(max_rounds=500, max_seconds=2.0)
    assert solver.budget_for() == Budget(max_rounds=500, max_seconds=2.0)


async def test_duplicate_and_empty_input_is_rejected(solver: DependencySolver) -> None:
    """Naming a package twice, or nothing at all, is an input error."""
    with pytest.raises(SolverInputError, match="twice"):
        await solver.solve_dependencies(
            TENANT, [(CORE, "1.9.0"), (CORE, "2.0.0")], [], allow_upgrades=False, budget=Budget()
        )
    with pytest.raises(SolverInputError, match="nothing to solve"):
        await solver.solve_dependencies(TENANT, [], [], allow_upgrades=False, budget=Budget())


async def test_an_invalid_plugin_name_is_rejected(solver: DependencySolver) -> None:
    """The plugin whose upgrade is predicted must be a valid npm name, by the kernel's rule."""
    with pytest.raises(SolverInputError, match="invalid plugin: '@Acme/X' has uppercase"):
        await solver.predict_upgrade_impact(TENANT, INSTALLED, "@Acme/X", "^1", budget=Budget())


async def test_invalid_tenant_is_rejected(solver: DependencySolver) -> None:
    """The wildcard tenant cannot be named in a request."""
    with pytest.raises(InvalidTenantIdError):
        await solver.predict_upgrade_impact("*", INSTALLED, "x", "^1", budget=Budget())


async def test_an_empty_installed_list_means_the_recorded_one(
    solver: DependencySolver,
) -> None:
    """Without an installed list the solver asks the tenant's recorded packages, per tenant."""
    asked: list[str] = []

    async def recorded(tenant_id: str) -> dict[str, str]:
        asked.append(tenant_id)
        return dict(INSTALLED)

    with_store = DependencySolver(
        InMemoryCatalog([pv(CORE, "1.9.0"), pv("@acme/plugin-c", "1.4.0", peers={CORE: "^1.9.0"})]),
        installed_of=recorded,
    )
    outcome = await with_store.solve_dependencies(
        TENANT, [], [("@acme/plugin-c", "*")], allow_upgrades=False, budget=Budget()
    )
    assert asked == [TENANT]
    assert not outcome.satisfiable  # plugin-a and plugin-d are recorded but not in this catalog
    given = await with_store.solve_dependencies(
        TENANT, [(CORE, "1.9.0")], [("@acme/plugin-c", "*")], allow_upgrades=False, budget=Budget()
    )
    assert given.satisfiable
    assert asked == [TENANT]
