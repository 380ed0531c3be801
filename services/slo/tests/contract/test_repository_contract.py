"""The promises both adapters of the slo ports keep; the fakes are only as good as this."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import asyncpg
import pytest

from portico_common.memory_uow import RowLevelSecurityError
from portico_common.tenants import ALL_TENANTS
from portico_slo.app.ports import SloRecord
from portico_slo.domain.buckets import bucket_key, prune, window_counts
from portico_slo.domain.burn_rate import Counts
from portico_slo.domain.events import SloViolated
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.slo import SloState, SloStatus

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
    )


async def add(backend: Backend, slo: SloRecord) -> None:
    async with backend.uow(slo.tenant_id) as tx:
        assert await tx.slos.add(slo)


async def test_added_slo_reads_back_equal(backend: Backend) -> None:
    """An SLO reads back equal by id, by plugin version, and locked."""
    slo = record(backend, "slo-a")
    await add(backend, slo)

    async with backend.uow("acme") as tx:
        found = [
            await tx.slos.get("acme", "slo-a"),
            await tx.slos.find("acme", "@acme/plugin-x", "1.0.0"),
            await tx.slos.lock("acme", "@acme/plugin-x", "1.0.0"),
        ]
        missing = [
            await tx.slos.get("acme", "slo-b"),
            await tx.slos.find("acme", "@acme/plugin-x", "1.0.1"),
        ]

    assert found == [slo, slo, slo]
    assert missing == [None, None]


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
        status=SloStatus("slo-a", SloState.VIOLATED, now),
        short_window_burn_rate=30.5,
        long_window_burn_rate=15.25,
        evaluated_at=now,
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
    async with backend.uow("acme") as tx:
        short, long = await tx.buckets.window_counts(slo, backend.clock.now())

    assert (short, long) == (Counts(5, 6), Counts(5, 6))


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

    async with backend.uow("acme") as tx:
        await tx.buckets.add("acme", "slo-a", buckets)
        got = await tx.buckets.window_counts(slo, now)

    expected = (
        window_counts(buckets, now, short, BUCKET),
        window_counts(buckets, now, long, BUCKET),
    )
    assert got == expected == (Counts(9, 90), Counts(14, 140))


async def test_all_window_counts_covers_idle_slos(backend: Backend) -> None:
    """Listing window counts for every tenant includes SLOs without traffic, at zero."""
    busy, idle = record(backend, "slo-a"), record(backend, "slo-b", tenant_id="globex")
    await add(backend, busy)
    await add(backend, idle)
    async with backend.uow("acme") as tx:
        await tx.buckets.add(
            "acme", "slo-a", {bucket_key(backend.clock.now(), BUCKET): Counts(4, 1)}
        )
    now = backend.clock.advance(minutes=10)

    async with backend.uow(ALL_TENANTS) as tx:
        rows = await tx.buckets.all_window_counts(now)

    assert sorted((s.slo_id, short, long) for s, short, long in rows) == [
        ("slo-a", Counts(), Counts(4, 1)),
        ("slo-b", Counts(), Counts()),
    ]


async def test_prune_matches_the_domain(backend: Backend) -> None:
    """Pruning deletes the buckets the domain's prune drops, and only those."""
    slo = record(backend, "slo-a")
    await add(backend, slo)
    now = backend.clock.now()
    high = bucket_key(now, BUCKET)
    long = slo.definition.long_window_seconds
    buckets = {
        k: Counts(1, 0) for k in (high - long - BUCKET, high - long, high - long + BUCKET, high)
    }
    async with backend.uow("acme") as tx:
        await tx.buckets.add("acme", "slo-a", buckets)

    async with backend.uow(ALL_TENANTS) as tx:
        deleted = await tx.buckets.prune(now)
    async with backend.uow("acme") as tx:
        remaining = await tx.buckets.window_counts(slo, now)

    kept = prune(buckets, now, long, BUCKET)
    assert deleted == len(buckets) - len(kept) == 2
    assert remaining[1] == Counts(len(kept), 0)


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
            await tx.slos.find("acme", "@acme/plugin-x", "1.0.0"),
            await tx.slos.lock("acme", "@acme/plugin-x", "1.0.0"),
        ]
        listed = await tx.buckets.all_window_counts(now)
        pruned = await tx.buckets.prune(now)
    async with backend.uow(ALL_TENANTS) as tx:
        still_there = await tx.buckets.window_counts(slo, backend.clock.now() - timedelta(hours=2))

    assert (seen, listed, pruned) == ([None, None, None], [], 0)
    assert still_there == (Counts(1, 1), Counts(1, 1))


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
