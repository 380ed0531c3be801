"""ListDependents: which installed plugins need a version going away, in rollback order."""

from __future__ import annotations

import pytest

from portico.compat.v1 import dependencies_pb2 as pb
from portico_compat.adapters.catalog_file import InMemoryCatalog
from portico_compat.app.dependencies import DependencySolver
from portico_compat.domain.solver import PackageVersion
from portico_compat.domain.solver.dependents import Installed, dependents_of
from portico_compat.domain.solver.errors import SolverInputError
from portico_compat.entrypoints.dependencies_api import DependencyServicer

A, B, C, D, E = (f"@acme/plugin-{x}" for x in "abcde")

CATALOG = InMemoryCatalog(
    [
        PackageVersion(A, "1.0.0"),
        PackageVersion(A, "2.0.0"),
        # B 2 needs A 2 (a peer); B 1 lives with A 1.
        PackageVersion(B, "1.0.0", peer_dependencies={A: "^1.0.0"}),
        PackageVersion(B, "2.0.0", peer_dependencies={A: "^2.0.0"}),
        # C needs B 2 (so A 2 through it) and A 2 itself: it must go back before B.
        PackageVersion(C, "1.0.0", dependencies={B: "^2.0.0", A: "^2.0.0"}),
        # D takes any A: going back to A 1 leaves it in range.
        PackageVersion(D, "1.0.0", dependencies={A: ">=1.0.0"}),
    ]
)


def installed(*packages: Installed) -> dict[str, Installed]:
    return {p.name: p for p in packages}


def test_direct_and_transitive_dependents_deepest_first() -> None:
    """C (needs B 2 and A 2) goes back before B (needs A 2); D, fine on A 1, is not listed."""
    found = dependents_of(
        CATALOG,
        installed(
            Installed(A, "2.0.0", "1.0.0"),
            Installed(B, "2.0.0", "1.0.0"),
            Installed(C, "1.0.0"),
            Installed(D, "1.0.0"),
        ),
        Installed(A, "2.0.0", "1.0.0"),
    )
    assert [(d.name, d.depth, d.kind) for d in found.dependents] == [
        (C, 2, "dependency"),
        (B, 1, "peer"),
    ]
    assert found.dependents[1].needs == f"{A} 2.0.0"
    assert found.dependents[1].range_ == "^2.0.0"
    assert found.unknown == ()


def test_a_dependent_whose_previous_version_still_fits_stops_the_walk() -> None:
    """C needs B ^2; if B goes back to another 2.x, C stays: B's previous fits C's range."""
    found = dependents_of(
        CATALOG,
        installed(Installed(B, "2.0.0", "2.0.0-rc.1"), Installed(C, "1.0.0")),
        Installed(B, "2.0.0", "2.0.0-rc.1"),
    )
    # 2.0.0-rc.1 is outside ^2.0.0 (npm excludes prereleases), so C is listed...
    assert [d.name for d in found.dependents] == [C]
    # ...while a previous release inside the range keeps it.
    kept = dependents_of(
        CATALOG,
        installed(Installed(B, "2.0.0"), Installed(C, "1.0.0")),
        Installed(B, "2.0.0", "2.1.0"),
    )
    assert kept.dependents == ()


def test_no_previous_version_means_every_requirer_is_a_dependent() -> None:
    """A first install going away leaves every plugin that requires it without it."""
    found = dependents_of(
        CATALOG,
        installed(Installed(B, "2.0.0", "1.0.0"), Installed(D, "1.0.0")),
        Installed(A, "2.0.0"),
    )
    assert [d.name for d in found.dependents] == [B, D]


def test_packages_the_catalog_lacks_are_named_not_guessed() -> None:
    """An installed version the catalog has no manifest of comes back as unknown."""
    found = dependents_of(
        CATALOG,
        installed(Installed(E, "9.9.9"), Installed(B, "1.0.0")),
        Installed(A, "2.0.0", "1.0.0"),
    )
    assert found.dependents == ()
    assert found.unknown == (f"{E} 9.9.9",)


def test_a_cycle_ends() -> None:
    """Two plugins needing each other's versions are each listed once."""
    catalog = InMemoryCatalog(
        [
            PackageVersion(A, "2.0.0"),
            PackageVersion(B, "1.0.0", dependencies={A: "^2.0.0", C: "^1.0.0"}),
            PackageVersion(C, "1.0.0", dependencies={B: "^1.0.0"}),
        ]
    )
    found = dependents_of(
        catalog,
        installed(Installed(B, "1.0.0"), Installed(C, "1.0.0")),
        Installed(A, "2.0.0", "1.0.0"),
    )
    assert sorted(d.name for d in found.dependents) == [B, C]


async def test_the_rpc_maps_the_request_and_the_answer() -> None:
    """ListDependents over the servicer: installed with previous versions in, ordered out."""
    servicer = DependencyServicer(DependencySolver(CATALOG))
    reply = await servicer.ListDependents(
        pb.ListDependentsRequest(
            tenant_id="acme",
            installed=[
                pb.InstalledPackage(name=A, version="2.0.0", previous_version="1.0.0"),
                pb.InstalledPackage(name=B, version="2.0.0", previous_version="1.0.0"),
                pb.InstalledPackage(name=C, version="1.0.0"),
            ],
            plugin=A,
            version="2.0.0",
            previous_version="1.0.0",
        ),
        None,  # type: ignore[arg-type]  # the servicer never reads the context
    )
    assert [(d.name, d.version, d.depth) for d in reply.dependents] == [
        (C, "1.0.0", 2),
        (B, "2.0.0", 1),
    ]


async def test_the_rpc_refuses_a_request_without_a_version() -> None:
    """A plugin without the version going away is an invalid argument."""
    solver = DependencySolver(CATALOG)
    with pytest.raises(SolverInputError, match="version is required"):
        await solver.list_dependents("acme", [], Installed(A, ""))
    with pytest.raises(SolverInputError, match="twice"):
        await solver.list_dependents(
            "acme", [Installed(B, "1.0.0"), Installed(B, "2.0.0")], Installed(A, "2.0.0")
        )
