"""The newer promises of both adapters: listing, updating, deleting, violations, templates."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from portico_common.tenants import ALL_TENANTS
from portico_slo.app.ports import SloFilter, SloRecord
from portico_slo.domain.buckets import bucket_key, summarize
from portico_slo.domain.burn_rate import Counts, WindowSummary
from portico_slo.domain.events import SloRecovered, SloViolated
from portico_slo.domain.indicator import BudgetingMethod, Indicator, PrometheusSource
from portico_slo.domain.scope import Scope, ScopeKind
from portico_slo.domain.slo import SloState, SloStatus
from portico_slo.domain.templates import SloSpec, SloTemplate

if TYPE_CHECKING:
    # conftest is not importable at run time under --import-mode=importlib.
    from conftest import Backend

PLUGIN = "@acme/plugin-x"


def record(
    backend: Backend,
    slo_id: str,
    scope: Scope,
    *,
    tenant_id: str = "acme",
    spec: SloSpec | None = None,
    name: str = "",
) -> SloRecord:
    definition = (spec or SloSpec(objective=0.99)).definition(
        slo_id, tenant_id, scope, name=name or None
    )
    return SloRecord(
        definition=definition,
        status=SloStatus(slo_id=slo_id),
        bucket_seconds=definition.bucket_seconds,
        created_at=backend.clock.now(),
    )


async def add(backend: Backend, *slos: SloRecord) -> None:
    for slo in slos:
        async with backend.uow(slo.tenant_id) as tx:
            assert await tx.slos.add(slo)


async def test_matching_finds_every_scope_an_outcome_falls_in(backend: Backend) -> None:
    """An outcome of a canary counts for its plugin's, its version's and its cohort's SLOs."""
    plugin = record(backend, "slo-1", Scope(ScopeKind.PLUGIN, PLUGIN))
    version = record(backend, "slo-2", Scope(ScopeKind.VERSION, PLUGIN, "2.0.0"))
    canary = record(backend, "slo-3", Scope(ScopeKind.CANARY, PLUGIN, "2.0.0", "r-1"))
    other = record(backend, "slo-4", Scope(ScopeKind.CANARY, PLUGIN, "2.0.0", "r-2"))
    await add(backend, plugin, version, canary, other)

    async with backend.uow("acme") as tx:
        in_canary = await tx.slos.matching("acme", PLUGIN, "2.0.0", "r-1", lock=True)
        stable = await tx.slos.matching("acme", PLUGIN, "1.0.0", lock=False)
        elsewhere = await tx.slos.matching("acme", "@acme/other", "2.0.0", lock=False)

    assert [s.slo_id for s in in_canary] == ["slo-1", "slo-2", "slo-3"]
    assert [s.slo_id for s in stable] == ["slo-1"]
    assert elsewhere == []


async def test_pages_are_ordered_by_name_and_filtered(backend: Backend) -> None:
    """Listing pages by name after a token, filtered by plugin, version, scope and state."""
    slos = [
        record(backend, f"slo-{i}", Scope.of(PLUGIN, version), name=f"n{i}")
        for i, version in enumerate(["1.0.0", "2.0.0", "2.0.0", ""])
    ]
    slos[2] = replace(slos[2], status=SloStatus("slo-2", SloState.VIOLATED, backend.clock.now()))
    await add(backend, *slos)
    await add(backend, record(backend, "theirs", Scope.of(PLUGIN, "2.0.0"), tenant_id="globex"))

    async with backend.uow("acme") as tx:
        first = await tx.slos.page("acme", SloFilter(), after="", limit=2)
        rest = await tx.slos.page("acme", SloFilter(), after="n1", limit=10)
        version = await tx.slos.page("acme", SloFilter(version="2.0.0"), after="", limit=10)
        plugin_wide = await tx.slos.page(
            "acme", SloFilter(scope=ScopeKind.PLUGIN), after="", limit=10
        )
        violated = await tx.slos.page("acme", SloFilter(violated_only=True), after="", limit=10)
        prefixed = await tx.slos.page("acme", SloFilter(name_prefix="n3"), after="", limit=10)

    def names(found: list[SloRecord]) -> list[str]:
        return [s.definition.name for s in found]

    assert (names(first), names(rest)) == (["n0", "n1"], ["n2", "n3"])
    assert names(version) == ["n1", "n2"]
    assert (names(plugin_wide), names(violated), names(prefixed)) == (["n3"], ["n2"], ["n3"])


async def test_update_and_delete(backend: Backend) -> None:
    """update() stores a new definition; delete() removes the SLO with its buckets."""
    slo = record(backend, "slo-a", Scope.of(PLUGIN, "1.0.0"))
    await add(backend, slo)
    async with backend.uow("acme") as tx:
        await tx.buckets.add("acme", "slo-a", {bucket_key(backend.clock.now(), 10): Counts(1, 0)})
    stricter = replace(slo, definition=replace(slo.definition, objective=0.999, name="stricter"))

    async with backend.uow("acme") as tx:
        await tx.slos.update(stricter)
    async with backend.uow("acme") as tx:
        updated = await tx.slos.get("acme", "slo-a")
        deleted = await tx.slos.delete("acme", "slo-a")
        again = await tx.slos.delete("acme", "slo-a")
    async with backend.uow("acme") as tx:
        [left] = await tx.buckets.summaries(slo, [(0, 2**40)])

    assert updated is not None
    assert (updated.definition.objective, updated.definition.name) == (0.999, "stricter")
    assert (deleted, again) == (True, False)
    assert left == WindowSummary()


async def test_refused_and_pulled_are_counted(backend: Backend) -> None:
    """Refused outcomes add up on the SLO; pulled SLOs are listed with where the last read ended."""
    pushed = record(backend, "slo-a", Scope.of(PLUGIN, "1.0.0"))
    source = PrometheusSource(good="ok_total", total="all_total")
    pulled = record(
        backend,
        "slo-b",
        Scope.of(PLUGIN, "2.0.0"),
        spec=SloSpec(objective=0.99, indicator=Indicator(prometheus=source)),
    )
    await add(backend, pushed, pulled)
    until = backend.clock.now() + timedelta(minutes=1)

    async with backend.uow("acme") as tx:
        await tx.slos.count_refused("acme", "slo-a", 3)
        await tx.slos.count_refused("acme", "slo-a", 4)
        await tx.slos.set_pulled("acme", "slo-b", until)
    async with backend.uow(ALL_TENANTS) as tx:
        listed = await tx.slos.pulled()
    async with backend.uow("acme") as tx:
        counted = await tx.slos.get("acme", "slo-a")

    assert counted is not None
    assert counted.refused_outcomes == 7
    assert [(s.slo_id, s.pulled_until) for s in listed] == [("slo-b", until)]
    assert listed[0].definition.indicator.prometheus == source


async def test_timeslices_and_groups_match_the_domain(backend: Backend) -> None:
    """Slices are judged per bucket and grouped exactly as the domain does it."""
    spec = SloSpec(
        objective=0.95,
        budgeting=BudgetingMethod.TIMESLICES,
        timeslice_target=0.9,
        timeslice_seconds=60,
    )
    slo = record(backend, "slo-a", Scope.of(PLUGIN, "1.0.0"), spec=spec)
    await add(backend, slo)
    high = bucket_key(backend.clock.now(), 60)
    buckets = {high - 60 * i: Counts(good=100 - i * 3, bad=i * 2) for i in range(30)} | {
        high - 60 * 40: Counts(9, 1)
    }  # exactly on the slice target: good
    async with backend.uow("acme") as tx:
        await tx.buckets.add("acme", "slo-a", buckets)

    spans = [(high - 600, high), (high - 3600, high)]
    async with backend.uow("acme") as tx:
        got = await tx.buckets.summaries(slo, spans)
        groups = await tx.buckets.groups(slo, high - 3600, high, 900)

    expected = [summarize(buckets, low, up, 0.9) for low, up in spans]
    assert [(s.events, s.good_slices, s.bad_slices) for s in got] == [
        (s.events, s.good_slices, s.bad_slices) for s in expected
    ]
    assert [s.ratio_sum for s in got] == pytest.approx([s.ratio_sum for s in expected])
    expected_groups: dict[int, WindowSummary] = {}
    for key, counts in buckets.items():
        if high - 3600 < key <= high:
            group = key // 900 * 900
            expected_groups[group] = expected_groups.get(
                group, WindowSummary()
            ) + WindowSummary.of_bucket(counts, 0.9)
    assert {k: (v.events, v.good_slices) for k, v in groups.items()} == {
        k: (v.events, v.good_slices) for k, v in expected_groups.items()
    }


def violated(backend: Backend, slo_id: str, tier: str, minutes: int) -> SloViolated:
    return SloViolated(
        tenant_id="acme",
        slo_id=slo_id,
        plugin=PLUGIN,
        version="1.0.0",
        rule="burn rate >= 14.4 over 5m and 1h",
        short_window_burn_rate=20.0,
        long_window_burn_rate=15.0,
        threshold=14.4,
        detected_at=backend.clock.now() + timedelta(minutes=minutes),
        tier=tier,
        severity="page",
        short_good=80,
        short_bad=20,
        long_good=850,
        long_bad=150,
        violation_id=f"{slo_id}/{tier}/{minutes}",
    )


async def test_violations_keep_their_evidence_and_recovery(backend: Backend) -> None:
    """Violations read back newest first with their evidence; a recovery closes its own."""
    await add(
        backend,
        record(backend, "slo-a", Scope.of(PLUGIN, "1.0.0")),
        record(backend, "slo-b", Scope.of(PLUGIN, "2.0.0")),
    )
    first, second = (
        violated(backend, "slo-a", "page-1h", 0),
        violated(backend, "slo-b", "page-6h", 5),
    )
    recovery = SloRecovered(
        tenant_id="acme",
        slo_id="slo-a",
        plugin=PLUGIN,
        version="1.0.0",
        tier="page-1h",
        severity="page",
        violation_id=first.violation_id,
        violated_at=first.detected_at,
        recovered_at=first.detected_at + timedelta(minutes=30),
        short_window_burn_rate=0.0,
        long_window_burn_rate=3.0,
        threshold=14.4,
        slo_ok=True,
    )

    async with backend.uow("acme") as tx:
        await tx.violations.record(first)
        await tx.violations.record(second)
    async with backend.uow("acme") as tx:
        await tx.violations.resolve(recovery)
    async with backend.uow("acme") as tx:
        everything = await tx.violations.recent("acme", "", limit=10)
        of_a = await tx.violations.recent("acme", "slo-a", limit=10)
    async with backend.uow("globex") as tx:
        theirs = await tx.violations.recent("acme", "", limit=10)

    assert [r.violation for r in everything] == [second, first]
    assert [(r.violation, r.recovered_at) for r in of_a] == [(first, recovery.recovered_at)]
    assert of_a[0].recovered == recovery
    assert theirs == []


async def test_templates_have_one_default(backend: Backend) -> None:
    """Templates are made once, replaced, listed by name; a new default unmarks the old one."""
    strict = SloTemplate("strict", SloSpec(objective=0.999), is_default=True)
    loose = SloTemplate("loose", SloSpec(objective=0.95))

    async with backend.uow("acme") as tx:
        created = [await tx.templates.put("acme", t, create=True) for t in (strict, loose, strict)]
        missing = await tx.templates.put("acme", SloTemplate("nope", SloSpec(0.99)), create=False)
    async with backend.uow("acme") as tx:
        before = await tx.templates.default("acme")
        assert await tx.templates.put("acme", replace(loose, is_default=True), create=False)
    async with backend.uow("acme") as tx:
        after = await tx.templates.default("acme")
        listed = await tx.templates.all("acme")
        got = await tx.templates.get("acme", "strict")
        removed = (
            await tx.templates.delete("acme", "strict"),
            await tx.templates.delete("acme", "strict"),
        )
    async with backend.uow("globex") as tx:
        theirs = (await tx.templates.all("acme"), await tx.templates.default("acme"))

    assert (created, missing) == ([True, True, False], False)
    assert (before, after) == (strict, replace(loose, is_default=True))
    assert [t.name for t in listed] == ["loose", "strict"]
    assert got == replace(strict, is_default=False)
    assert removed == (True, False)
    assert theirs == ([], None)
