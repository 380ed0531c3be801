"""The dependency solver: consistent sets, PubGrub-style explanations, budgets."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from portico_compat.adapters.catalog_file import InMemoryCatalog
from portico_compat.domain.solver import (
    Budget,
    ChangeKind,
    PackageVersion,
    predict_upgrade_impact,
    solve,
)
from portico_compat.domain.solver.errors import SolverBudgetExceededError, SolverInputError

CORE = "@backstage/core-plugin-api"


def pv(
    name: str, version: str, deps: dict[str, str] | None = None, peers: dict[str, str] | None = None
) -> PackageVersion:
    return PackageVersion(name, version, deps or {}, peers or {})


def catalog() -> InMemoryCatalog:
    return InMemoryCatalog(
        [
            pv(CORE, "1.9.0"),
            pv(CORE, "1.10.0"),
            pv("b", "2.5.0"),
            pv("b", "3.1.0"),
            pv("a", "1.9.0", {"b": "^2.0.0"}, {CORE: "^1.9.0"}),
            pv("a", "2.0.0", {"b": "^3.0.0"}, {CORE: "^1.10.0"}),
            pv("c", "1.4.0", {"b": "^2.0.0"}),
            pv("c", "2.0.0", {"b": "^3.0.0"}),
            pv("c", "2.1.0", {"b": "^3.0.0"}),
        ]
    )


def test_fresh_install_takes_the_newest_versions() -> None:
    """With nothing installed, the request and its dependencies resolve to their newest fit."""
    outcome = solve(
        catalog(),
        installed={},
        requested={"a": "*"},
        allow_upgrades=False,
        budget=Budget(),
        now=time.monotonic,
    )
    assert outcome.satisfiable
    assert {(p.name, p.version, p.change) for p in outcome.packages} == {
        ("a", "2.0.0", ChangeKind.ADDED),
        ("b", "3.1.0", ChangeKind.ADDED),
        (CORE, "1.10.0", ChangeKind.ADDED),
    }


def test_installed_versions_are_kept_when_they_fit() -> None:
    """Allowed to move, the solver keeps every installed version that fits (fewest changes)."""
    outcome = solve(
        catalog(),
        installed={"c": "2.0.0", "b": "3.1.0", CORE: "1.10.0"},
        requested={"a": "^2.0.0"},
        allow_upgrades=True,
        budget=Budget(),
        now=time.monotonic,
    )
    assert outcome.satisfiable
    assert [(p.name, p.change) for p in outcome.changes] == [("a", ChangeKind.ADDED)]


def test_upgrades_installed_plugins_only_when_needed_and_allowed() -> None:
    """An installed plugin that blocks the request is upgraded to the nearest fitting version."""
    outcome = solve(
        catalog(),
        installed={"c": "1.4.0", "b": "2.5.0", CORE: "1.10.0"},
        requested={"a": "^2.0.0"},
        allow_upgrades=True,
        budget=Budget(),
        now=time.monotonic,
    )
    assert outcome.satisfiable
    versions = {p.name: (p.version, p.change) for p in outcome.packages}
    assert (
        versions["c"] == ("2.1.0", ChangeKind.UPGRADED) or versions["c"][1] is ChangeKind.UPGRADED
    )
    assert versions["b"] == ("3.1.0", ChangeKind.UPGRADED)
    assert versions[CORE] == ("1.10.0", ChangeKind.UNCHANGED)


def test_conflict_is_explained_as_a_chain_with_ways_out() -> None:
    """A 2.x next to an installed C 1.4 reads like PubGrub, naming the broken plugin and fixes."""
    outcome = solve(
        catalog(),
        installed={"a": "1.9.0", "c": "1.4.0", CORE: "1.10.0"},
        requested={"a": "^2.0.0"},
        allow_upgrades=False,
        budget=Budget(),
        now=time.monotonic,
    )
    assert not outcome.satisfiable
    explanation = outcome.explanation
    assert explanation is not None
    text = explanation.text()
    assert "a 2.0.0 needs b ^3.0.0" in text
    assert "c 1.4.0 needs b ^2.0.0" in text
    assert "a 2.0.0 cannot be installed next to c 1.4.0" in text
    assert explanation.suggestions == ("upgrade c to >= 2.0.0", "stay on a 1.9.0")
    assert explanation.broken_installed == ("c 1.4.0",)


def test_missing_package_is_explained() -> None:
    """A dependency the catalog has no matching version of is named with the range nobody meets."""
    cat = InMemoryCatalog([pv("x", "1.0.0", peers={CORE: "^9.0.0"}), pv(CORE, "1.10.0")])
    outcome = solve(
        cat,
        installed={},
        requested={"x": "1.0.0"},
        allow_upgrades=False,
        budget=Budget(),
        now=time.monotonic,
    )
    assert outcome.explanation is not None
    assert "x 1.0.0 needs peer @backstage/core-plugin-api ^9.0.0" in outcome.explanation.text()
    assert "no version of @backstage/core-plugin-api matches ^9.0.0" in outcome.explanation.text()


def test_transitive_conflict_names_the_path_from_the_root() -> None:
    """When the clash is two levels down, the reasons say which package pulled the culprit in."""
    cat = InMemoryCatalog(
        [
            pv("top", "1.0.0", {"mid": "^1.0.0"}),
            pv("mid", "1.2.0", peers={CORE: "^2.0.0"}),
            pv(CORE, "1.10.0"),
            pv(CORE, "2.0.0"),
        ]
    )
    outcome = solve(
        cat,
        installed={CORE: "1.10.0"},
        requested={"top": "^1.0.0"},
        allow_upgrades=False,
        budget=Budget(),
        now=time.monotonic,
    )
    assert outcome.explanation is not None
    assert outcome.explanation.reasons[0] == "top 1.0.0 depends on mid ^1.0.0 (resolved to 1.2.0)"
    assert outcome.explanation.broken_installed == (f"{CORE} 1.10.0",)
    assert outcome.explanation.suggestions[0] == f"upgrade {CORE} to >= 2.0.0"


def test_cycles_resolve() -> None:
    """Packages that depend on each other in a cycle still resolve, once each."""
    cat = InMemoryCatalog([pv("p", "1.0.0", {"q": "^1.0.0"}), pv("q", "1.0.0", {"p": "^1.0.0"})])
    outcome = solve(
        cat,
        installed={},
        requested={"p": "*"},
        allow_upgrades=False,
        budget=Budget(),
        now=time.monotonic,
    )
    assert outcome.satisfiable
    assert [p.name for p in outcome.packages] == ["p", "q"]


def test_invalid_ranges_in_the_catalog_are_a_conflict_not_a_crash() -> None:
    """A catalog entry with an absurd range makes that version unusable, with the reason."""
    cat = InMemoryCatalog([pv("x", "1.0.0", peers={CORE: ">>>nonsense"}), pv(CORE, "1.0.0")])
    outcome = solve(
        cat,
        installed={},
        requested={"x": "*"},
        allow_upgrades=False,
        budget=Budget(),
        now=time.monotonic,
    )
    assert not outcome.satisfiable
    assert outcome.explanation is not None
    assert ">>>nonsense" in outcome.explanation.text()


@pytest.mark.parametrize(
    ("installed", "requested"),
    [
        ({}, {"a": "not a range ^^"}),
        ({"a": "1.0"}, {}),
        ({"": "1.0.0"}, {}),
        ({"a": "1.0.0.0.0-"}, {}),
        ({"a b": "1.0.0"}, {}),
        ({}, {"a b": "^1"}),
    ],
)
def test_bad_input_is_rejected(installed: dict[str, str], requested: dict[str, str]) -> None:
    """An invalid requested range or installed version is an input error, not a solve."""
    with pytest.raises(SolverInputError):
        solve(
            catalog(),
            installed=installed,
            requested=requested,
            allow_upgrades=False,
            budget=Budget(),
            now=time.monotonic,
        )


def explosive_catalog(width: int = 12, depth: int = 12) -> InMemoryCatalog:
    """Every version of level i works with any of level i+1, but the last level is impossible."""
    packages = []
    for level in range(depth):
        for v in range(width):
            deps = (
                {f"l{level + 1}": "*"}
                if level + 1 < depth
                else {"missing": "^1.0.0", CORE: "^1.0.0"}
            )
            packages.append(pv(f"l{level}", f"1.{v}.0", deps, {CORE: f"^1.{v}.0"}))
    packages += [pv(CORE, f"1.{v}.0") for v in range(width)]
    packages.append(pv("missing", "2.0.0"))
    return InMemoryCatalog(packages)


def fake_clock(step: float) -> Iterator[float]:
    t = 0.0
    while True:
        yield t
        t += step


def test_round_budget_is_reported_not_exceeded() -> None:
    """A catalog that would make the resolver backtrack without end stops at the round budget."""
    with pytest.raises(SolverBudgetExceededError) as raised:
        solve(
            explosive_catalog(),
            installed={},
            requested={"l0": "*"},
            allow_upgrades=False,
            budget=Budget(max_rounds=50, max_seconds=60),
            now=time.monotonic,
        )
    assert raised.value.code == "RESOURCE_EXHAUSTED"
    assert raised.value.budget == "rounds"


def test_time_budget_is_reported_not_exceeded() -> None:
    """With a clock that races ahead, the solve stops at its time budget and says how far it got."""
    ticks = fake_clock(0.01)
    with pytest.raises(SolverBudgetExceededError) as raised:
        solve(
            explosive_catalog(),
            installed={},
            requested={"l0": "*"},
            allow_upgrades=False,
            budget=Budget(max_rounds=100_000, max_seconds=0.5),
            now=lambda: next(ticks),
        )
    assert raised.value.budget == "time"
    assert raised.value.steps > 0


def test_unknown_package_is_explained() -> None:
    """Requesting a package the catalog has never heard of says so, instead of failing."""
    outcome = solve(
        catalog(),
        installed={},
        requested={"@acme/ghost": "^1.0.0"},
        allow_upgrades=False,
        budget=Budget(),
        now=time.monotonic,
    )
    assert outcome.explanation is not None
    assert outcome.explanation.text() == (
        "Because @acme/ghost ^1.0.0 is required and no version of @acme/ghost is in the catalog,"
        " @acme/ghost ^1.0.0 cannot be installed"
    )


def test_cyclic_conflict_terminates_with_an_explanation() -> None:
    """A cycle whose two sides disagree is reported as a clash, not looped over."""
    cat = InMemoryCatalog(
        [
            pv("p", "1.0.0", {"q": "^1.0.0"}),
            pv("q", "1.0.0", {"p": "^2.0.0"}),
            pv("p", "2.0.0", {"q": "^2.0.0"}),
        ]
    )
    outcome = solve(
        cat,
        installed={},
        requested={"p": "^1.0.0"},
        allow_upgrades=False,
        budget=Budget(),
        now=time.monotonic,
    )
    assert not outcome.satisfiable
    assert outcome.explanation is not None
    assert outcome.explanation.text() == (
        "p 1.0.0 depends on q ^1.0.0 (resolved to 1.0.0)\n"
        "Because p ^1.0.0 is required and q 1.0.0 needs p ^2.0.0,"
        " p ^1.0.0 cannot be installed next to q 1.0.0"
    )


def test_upgrade_prediction_shares_one_budget() -> None:
    """Prediction runs several solves; together they stop at the one time budget."""
    ticks = fake_clock(0.01)
    with pytest.raises(SolverBudgetExceededError):
        predict_upgrade_impact(
            explosive_catalog(),
            installed={"l0": "1.0.0", CORE: "1.0.0"},
            plugin="l0",
            target_range="*",
            budget=Budget(max_rounds=100_000, max_seconds=0.5),
            now=lambda: next(ticks),
        )
