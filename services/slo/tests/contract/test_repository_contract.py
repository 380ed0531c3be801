"""The promises both adapters of the slo ports keep; the fakes are only as good as this."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import asyncpg
import pytest

from portico_common.memory_uow import RowLevelSecurityError
from portico_common.tenants import ALL_TENANTS
from portico_slo.app.ports import SloRecord, TierBurn
from portico_slo.domain.buckets import bucket_key, prune, summarize, window_span
from portico_slo.domain.burn_rate import Counts, WindowSummary
from portico_slo.domain.events import SloViolated
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.retention import retention_seconds
from portico_slo.domain.slo import ActiveTier, SloState, SloStatus, TierState

if TYPE_CHECKING:
    # conftest is not importable at run time under --import-mode=importlib.
    from conftest import Backend

BUCKET = 10


def record(
    backend: Backend, slo_id: str, tenant_id: str = "acme", version: str = "1.0.0"
) -> SloRecord:
    definition = SloDefinition.with_defaults(
        slo_id=slo_id,
        tenant_id=tenant_id,
        plugin="@acme/plugin-x",
        version=version,
        objective=0.995,
        latency_threshold_ms=250,
        min_events=20,
    )
    return SloRecord(
        definition=definition,
        status=SloStatus(slo_id=slo_id),
        bucket_seconds=BUCKET,
        created_at=backend.clock.now(),
    )


def events(summary: WindowSummary) -> Counts:
    return summary.events


def violation(backend: Backend) -> SloViolated:
    return SloViolated(
        tenant_id="acme",
        slo_id="slo-a",
        plugin="@acme/plugin-x",
        version="1.0.0",
        rule="burn rate >= 14.4 over 5m and 1h",
        short_window_burn_rate=20.0,
        long_window_burn_rate=15.0,
        threshold=14.4,
        detected_at=backend.clock.now(),
        tier="page-1h",
        violation_id="slo-a/page-1h/1",
    )


async def add(backend: Backend, slo: SloRecord) -> None:
    async with backend.uow(slo.tenant_id) as tx:
        assert await tx.slos.add(slo)


async def test_added_slo_reads_back_equal(backend: Backend) -> None:
    """An SLO reads back equal by id, by name, locked, and among those an outcome matches."""
    slo = record(backend, "slo-a")
    await add(backend, slo)

    async with backend.uow("acme") as tx:
        found = [
            await tx.slos.get("acme", "slo-a"),
            await tx.slos.by_name("acme", "@acme/plugin-x@1.0.0"),
            await tx.slos.lock("acme", "slo-a"),
        ]
        [matched] = await tx.slos.matching("acme", "@acme/plugin-x", "1.0.0", lock=True)
        missing = [
            await tx.slos.get("acme", "slo-b"),
            await tx.slos.matching("acme", "@acme/plugin-x", "1.0.1", lock=False),
        ]

    assert found == [slo, slo, slo]
    assert matched == slo
    assert missing == [None, []]


async def test_second_slo_for_a_version_is_refused(backend: Backend) -> None:
    """Another SLO for the same tenant, plugin and version is refused and stored nowhere."""
    await add(backend, record(backend, "slo-a"))

    async with backend.uow("acme") as tx:
        added = await tx.slos.add(record(backend, "slo-b"))
    async with backend.uow("acme") as tx:
        second = await tx.slos.get("acme", "slo-b")

    assert (added, second) == (False, None)


async def test_save_stores_status_and_last_evaluation(backend: Backend) -> None:
    """save() keeps the violation and the burn rates, not the definition."""
    slo = record(backend, "slo-a")
    await add(backend, slo)
    now = backend.clock.advance(seconds=42)
    changed = replace(
        slo,
        status=SloStatus(
            "slo-a",
            SloState.VIOLATED,
            now,
            {
                "page-1h": ActiveTier(TierState.FIRING, now, "slo-a/page-1h/1"),
                "ticket-3d": ActiveTier(TierState.INHIBITED, now),
            },
        ),
        short_window_burn_rate=30.5,
        long_window_burn_rate=15.25,
        evaluated_at=now,
        tier_burns=(TierBurn("page-1h", 30.5, 15.25), TierBurn("ticket-3d", 2.0, 1.5)),
    )

    async with backend.uow("acme") as tx:
        await tx.slos.save(changed)
    async with backend.uow("acme") as tx:
        got = await tx.slos.get("acme", "slo-a")

    assert got == changed


async def test_bucket_counts_add_up(backend: Backend) -> None:
    """Adding to a bucket increments it; reports are summed per bucket, not stored one by one."""
    slo = record(backend, "slo-a")
    await add(backend, slo)
    key = bucket_key(backend.clock.now(), BUCKET)

    for counts in ({key: Counts(3, 1)}, {key: Counts(2, 0), key - BUCKET: Counts(0, 5)}):
        async with backend.uow("acme") as tx:
            await tx.buckets.add("acme", "slo-a", counts)
    now = backend.clock.now()
    spans = [window_span(now, 300, BUCKET), window_span(now, 3600, BUCKET)]
    async with backend.uow("acme") as tx:
        short, long = await tx.buckets.summaries(slo, spans)

    assert (events(short), events(long)) == (Counts(5, 6), Counts(5, 6))


async def test_window_bounds_match_the_domain(backend: Backend) -> None:
    """The windows include exactly the buckets the domain's window_counts includes."""
    slo = record(backend, "slo-a")
    await add(backend, slo)
    now = backend.clock.advance(seconds=7)  # inside a bucket, not on its edge
    high = bucket_key(now, BUCKET)
    short, long = slo.definition.short_window_seconds, slo.definition.long_window_seconds
    keys = [high - long, high - long + BUCKET, high - short, high - short + BUCKET, high]
    buckets = {key: Counts(good=i + 1, bad=10 * (i + 1)) for i, key in enumerate(keys)}
    buckets[high + BUCKET] = Counts(1000, 1000)  # a replica's clock running ahead

    spans = [window_span(now, short, BUCKET), window_span(now, long, BUCKET)]
    async with backend.uow("acme") as tx:
        await tx.buckets.add("acme", "slo-a", buckets)
        got = await tx.buckets.summaries(slo, spans)

    expected = [summarize(buckets, low, high) for low, high in spans]
    assert got == expected
    assert [events(s) for s in got] == [Counts(9, 90), Counts(14, 140)]


async def test_all_summaries_cover_idle_slos(backend: Backend) -> None:
    """Summaries of every tenant's alerting windows include SLOs without traffic, at zero."""
    busy, idle = record(backend, "slo-a"), record(backend, "slo-b", tenant_id="globex")
    await add(backend, busy)
    await add(backend, idle)
    async with backend.uow("acme") as tx:
        await tx.buckets.add(
            "acme", "slo-a", {bucket_key(backend.clock.now(), BUCKET): Counts(4, 1)}
        )
    now = backend.clock.advance(minutes=10)

    async with backend.uow(ALL_TENANTS) as tx:
        rows = await tx.buckets.all_summaries(now)

    got = sorted((s.slo_id, {w: events(x) for w, x in windows.items()}) for s, windows in rows)
    empty = Counts()
    assert got == [
        (
            "slo-a",
            {
                300: empty,
                1800: Counts(4, 1),
                3600: Counts(4, 1),
                7200: Counts(4, 1),
                21_600: Counts(4, 1),
                86_400: Counts(4, 1),
                259_200: Counts(4, 1),
            },
        ),
        ("slo-b", dict.fromkeys((300, 1800, 3600, 7200, 21600, 86400, 259200), empty)),
    ]
    assert [s for s, _ in sorted(rows, key=lambda r: r[0].slo_id)] == [busy, idle]


async def test_active_summaries_are_those_of_the_slos_a_tick_can_change(
    backend: Backend,
) -> None:
    """Only SLOs with a bucket in their longest window, a state or tiers to settle, or a
    burning gauge are read, each with the summaries all_summaries gives it; total counts all."""
    now = backend.clock.now()
    high = bucket_key(now, BUCKET)
    longest = max(record(backend, "x").definition.alerting.windows)
    slos = {
        "slo-inside": record(backend, "slo-inside", version="1.0.0"),
        "slo-outside": record(backend, "slo-outside", version="1.0.1"),
        "slo-future": record(backend, "slo-future", version="1.0.2"),
        "slo-classic": replace(
            record(backend, "slo-classic", version="1.0.3"),
            status=SloStatus("slo-classic", SloState.VIOLATED, now),
        ),
        "slo-held": replace(
            record(backend, "slo-held", version="1.0.4"),
            status=SloStatus("slo-held", tiers={"ticket-3d": ActiveTier(TierState.INHIBITED, now)}),
        ),
        "slo-burning": record(backend, "slo-burning", version="1.0.5"),
        "slo-idle": record(backend, "slo-idle", version="1.0.6"),
        "slo-theirs": record(backend, "slo-theirs", tenant_id="globex"),
    }
    for slo in slos.values():
        await add(backend, slo)
    async with backend.uow("acme") as tx:
        for slo in slos.values():
            await tx.slos.save(slo)  # add stores no tier state
        # A window of W seconds holds the buckets in (high - W, high].
        await tx.buckets.add("acme", "slo-inside", {high - longest + BUCKET: Counts(3, 1)})
        await tx.buckets.add("acme", "slo-outside", {high - longest: Counts(3, 1)})
        await tx.buckets.add("acme", "slo-future", {high + BUCKET: Counts(3, 1)})

    async with backend.uow(ALL_TENANTS) as tx:
        active = await tx.buckets.active_summaries(now, ["slo-burning", "slo-elsewhere"])
        every = {s.slo_id: windows for s, windows in await tx.buckets.all_summaries(now)}
    async with backend.uow("globex") as tx:
        theirs = await tx.buckets.active_summaries(now, ["slo-burning"])

    assert [s.slo_id for s, _ in active.rows] == [
        "slo-burning",
        "slo-classic",
        "slo-held",
        "slo-inside",
    ]
    assert active.total == len(slos)
    assert [s for s, _ in active.rows] == [slos[s.slo_id] for s, _ in active.rows]
    assert all(windows == every[s.slo_id] for s, windows in active.rows)
    assert events(active.rows[-1][1][longest]) == Counts(3, 1)
    assert (theirs.rows, theirs.total) == ([], 1)


async def test_prune_matches_the_domain(backend: Backend) -> None:
    """Pruning deletes the buckets the domain's prune drops, and only those."""
    slo = record(backend, "slo-a")
    await add(backend, slo)
    now = backend.clock.now()
    high = bucket_key(now, BUCKET)
    keep = retention_seconds(slo.definition, BUCKET)
    buckets = {
        k: Counts(1, 0) for k in (high - keep - BUCKET, high - keep, high - keep + BUCKET, high)
    }
    async with backend.uow("acme") as tx:
        await tx.buckets.add("acme", "slo-a", buckets)

    async with backend.uow(ALL_TENANTS) as tx:
        deleted = await tx.buckets.prune(now)
    async with backend.uow("acme") as tx:
        [remaining] = await tx.buckets.summaries(slo, [(high - 2 * keep, high)])

    kept = prune(buckets, now, keep, BUCKET)
    assert deleted == len(buckets) - len(kept) == 2
    assert events(remaining) == Counts(len(kept), 0)


async def test_a_tenant_sees_only_its_own_rows(backend: Backend) -> None:
    """Another tenant's transaction finds none of our SLOs or buckets and cannot prune them."""
    slo = record(backend, "slo-a")
    await add(backend, slo)
    old = bucket_key(backend.clock.now(), BUCKET)
    async with backend.uow("acme") as tx:
        await tx.buckets.add("acme", "slo-a", {old: Counts(1, 1)})
    now = backend.clock.advance(hours=2)

    async with backend.uow("globex") as tx:
        seen = [
            await tx.slos.get("acme", "slo-a"),
            await tx.slos.by_name("acme", "@acme/plugin-x@1.0.0"),
            await tx.slos.lock("acme", "slo-a"),
        ]
        matched = await tx.slos.matching("acme", "@acme/plugin-x", "1.0.0", lock=True)
        listed = await tx.buckets.all_summaries(now)
        pruned = await tx.buckets.prune(now + timedelta(days=365))
    async with backend.uow(ALL_TENANTS) as tx:
        [still_there] = await tx.buckets.summaries(
            slo, [window_span(now - timedelta(hours=2), 300, BUCKET)]
        )

    assert (seen, matched, listed, pruned) == ([None, None, None], [], [], 0)
    assert events(still_there) == Counts(1, 1)


async def test_rows_for_another_tenant_are_refused(backend: Backend) -> None:
    """A tenant cannot write buckets under another tenant's id or onto another tenant's SLO."""
    await add(backend, record(backend, "slo-a"))
    key = bucket_key(backend.clock.now(), BUCKET)

    async def write(tenant_in_row: str) -> None:
        async with backend.uow("globex") as tx:
            await tx.buckets.add(tenant_in_row, "slo-a", {key: Counts(1, 0)})

    # The adapters raise their own error types; the type or message says which rule held.
    with pytest.raises((RowLevelSecurityError, asyncpg.InsufficientPrivilegeError)):
        await write("acme")
    with pytest.raises(Exception, match="foreign key"):
        await write("globex")


async def test_failed_transaction_leaves_nothing(backend: Backend) -> None:
    """An exception inside a unit of work discards its SLO, its buckets and its events."""
    slo = record(backend, "slo-a")

    async def write_then_fail() -> None:
        async with backend.uow("acme") as tx:
            await tx.slos.add(slo)
            await tx.buckets.add("acme", "slo-a", {0: Counts(1, 0)})
            await tx.publish([violation(backend)])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await write_then_fail()
    async with backend.uow("acme") as tx:
        found = await tx.slos.get("acme", "slo-a")

    assert found is None
    assert await backend.committed_events() == []


async def test_events_commit_with_the_transaction(backend: Backend) -> None:
    """An emitted event is committed with the transaction, under its tenant."""
    await add(backend, record(backend, "slo-a"))

    async with backend.uow("acme") as tx:
        await tx.publish([violation(backend)])

    assert await backend.committed_events() == [("slo.violated", "acme")]
