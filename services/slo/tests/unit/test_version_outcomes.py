"""Per-version outcome tallies: percentiles off the histogram, ranges cut in steps, the series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from portico.slo.v1 import slo_pb2 as pb
from portico_common.clock import ManualClock
from portico_common.timestamps import to_timestamp
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.app import handlers, version_outcomes
from portico_slo.app.validation import ReportedOutcome
from portico_slo.bootstrap import Dependencies, build
from portico_slo.domain.version_outcomes import (
    BUCKETS,
    LATENCY_BOUNDS_MS,
    SeriesRange,
    Tally,
    second_of,
    tally,
)
from portico_slo.errors import InvalidSloDefinitionError, InvalidWindowError

TENANT, PLUGIN = "acme", "@acme/plugin-cost-insights"
NO_CONTEXT: Any = None


def many(latencies: list[int], *, failures: int = 0) -> Tally:
    total = Tally()
    for i, latency in enumerate(latencies):
        total += Tally.of(i >= failures, latency)
    return total


def test_a_tally_counts_errors_and_sums_latency() -> None:
    """Totals, errors and the mean come out exact."""
    counted = many([10, 20, 30, 40], failures=1)
    assert (counted.total, counted.errors, counted.mean_ms) == (4, 1, 25.0)
    assert sum(counted.histogram) == 4
    assert len(counted.histogram) == BUCKETS


def test_percentiles_interpolate_within_a_bucket() -> None:
    """100 outcomes spread over 100..200 ms: p50 and p95 land inside their 10 ms buckets."""
    counted = many([100 + i for i in range(100)])
    assert 140 <= counted.percentile_ms(0.50) <= 150
    assert 190 <= counted.percentile_ms(0.95) <= 200


def test_a_rank_in_the_open_bucket_reads_as_the_last_bound() -> None:
    """Beyond 60 s there is no upper bound: the percentile is the highest finite bound."""
    assert many([120_000]).percentile_ms(0.99) == float(LATENCY_BOUNDS_MS[-1])


def test_no_outcome_means_zeros() -> None:
    """An empty interval has no latency: 0, not an error."""
    assert (Tally().percentile_ms(0.99), Tally().mean_ms) == (0.0, 0.0)


def test_a_histogram_of_the_wrong_shape_is_refused() -> None:
    """A stored row with another bucket count cannot be read as a tally."""
    with pytest.raises(InvalidWindowError):
        Tally(1, 0, 1, (1,))


def test_outcomes_land_in_their_second() -> None:
    """Two outcomes in one second and one in the next make two tallies."""
    t = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    seconds = tally(
        [
            (t, True, 10),
            (t + timedelta(milliseconds=999), False, 20),
            (t + timedelta(seconds=1), True, 5),
        ]
    )
    assert {k - second_of(t): (v.total, v.errors) for k, v in seconds.items()} == {
        0: (2, 1),
        1: (1, 0),
    }


def test_a_range_is_cut_in_steps_with_empty_ones_kept() -> None:
    """[0, 10) in steps of 4: intervals at 0, 4 and 8 (the last short), gaps included."""
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    span = SeriesRange.of(start, start + timedelta(seconds=10), 4)
    base = second_of(start)
    summary, intervals = span.series({base + 1: Tally.of(True, 5), base + 9: Tally.of(False, 5)})
    assert [i.start - base for i in intervals] == [0, 4, 8]
    assert [i.tally.total for i in intervals] == [1, 0, 1]
    assert (summary.total, summary.errors) == (2, 1)


@pytest.mark.parametrize(
    ("seconds", "step", "field"),
    [
        (0, 0, "end"),
        (8 * 24 * 3600, 0, "end"),
        (10, -1, "step_seconds"),
        (100_000, 1, "step_seconds"),
    ],
)
def test_impossible_ranges_are_refused(seconds: int, step: int, field: str) -> None:
    """Empty, too long, negative steps and too many intervals are refused with the field."""
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with pytest.raises(InvalidWindowError) as raised:
        SeriesRange.of(start, start + timedelta(seconds=seconds), step)
    assert raised.value.field == field


async def _slo(store: MemoryStore, gauge: MemoryBurnRates, version: str) -> str:
    created = await handlers.create_slo(
        store.uow_factory(), gauge, tenant_id=TENANT, plugin=PLUGIN, version=version, objective=0.99
    )
    return created.slo_id


async def test_reports_feed_the_series_of_each_version(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Canary and baseline, reported in the same window, come back per version with burn rates."""
    start = clock.now()
    canary_slo = await _slo(store, gauge, "2.3.0")
    await _slo(store, gauge, "2.2.0")
    for version, failures in (("2.3.0", 10), ("2.2.0", 0)):
        outcomes = [ReportedOutcome(i >= failures, 100 + i) for i in range(100)]
        await handlers.report_outcomes(
            store.uow_factory(),
            gauge,
            tenant_id=TENANT,
            plugin=PLUGIN,
            version=version,
            outcomes=outcomes,
        )
    clock.advance(seconds=10)
    canary, baseline, nothing = await version_outcomes.series(
        store.uow_factory(),
        tenant_id=TENANT,
        plugin=PLUGIN,
        versions=["2.3.0", "2.2.0", "2.1.0"],
        start=start,
        end=clock.now(),
        step_seconds=5,
    )
    assert (canary.summary.total, canary.summary.errors) == (100, 10)
    assert canary.burn_rate == pytest.approx(0.10 / 0.01)
    assert canary.slo_id == canary_slo
    assert (baseline.summary.errors, baseline.burn_rate) == (0, 0.0)
    assert [i.tally.total for i in canary.intervals] == [100, 0]
    assert (nothing.summary.total, nothing.slo_id, nothing.burn_rate) == (0, "", 0.0)


async def test_refused_outcomes_are_not_tallied(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """An outcome too old to count for the SLO is not in the version's series either."""
    await _slo(store, gauge, "2.3.0")
    start = clock.now() - timedelta(hours=1)
    await handlers.report_outcomes(
        store.uow_factory(),
        gauge,
        tenant_id=TENANT,
        plugin=PLUGIN,
        version="2.3.0",
        outcomes=[ReportedOutcome(True, 5, at=start), ReportedOutcome(True, 5)],
    )
    [found] = await version_outcomes.series(
        store.uow_factory(),
        tenant_id=TENANT,
        plugin=PLUGIN,
        versions=["2.3.0"],
        start=start,
        end=clock.now() + timedelta(seconds=1),
    )
    assert found.summary.total == 1


async def test_a_series_request_names_its_versions(store: MemoryStore) -> None:
    """No version, or too many, is refused before any transaction."""
    with pytest.raises(InvalidSloDefinitionError):
        await version_outcomes.series(
            store.uow_factory(),
            tenant_id=TENANT,
            plugin=PLUGIN,
            versions=[],
            start=datetime(2026, 3, 1, tzinfo=UTC),
            end=datetime(2026, 3, 2, tzinfo=UTC),
        )


async def test_old_tallies_are_pruned(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Past the retention (8 days) tallies go; recent ones stay."""
    await _slo(store, gauge, "2.3.0")
    await handlers.report_outcomes(
        store.uow_factory(),
        gauge,
        tenant_id=TENANT,
        plugin=PLUGIN,
        version="2.3.0",
        outcomes=[ReportedOutcome(True, 5)],
    )
    assert await version_outcomes.prune(store.uow_factory()) == 0
    clock.advance(days=9)
    assert await version_outcomes.prune(store.uow_factory()) == 1


async def test_get_version_outcomes_over_grpc(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """The servicer maps the range in and the series, summary and percentiles out."""
    registered, _ = build(Dependencies(uow=store.uow_factory(), clock=clock, gauge=gauge)).servicers
    assert registered.name == "portico.slo.v1.SloService"
    servicer = registered.implementation
    await _slo(store, gauge, "2.3.0")
    start = clock.now()
    await servicer.ReportOutcomes(
        pb.ReportOutcomesRequest(
            tenant_id=TENANT,
            plugin=PLUGIN,
            version="2.3.0",
            outcomes=[pb.Outcome(success=True, latency_ms=100)] * 9
            + [pb.Outcome(success=False, latency_ms=900)],
        ),
        NO_CONTEXT,
    )
    reply = await servicer.GetVersionOutcomes(
        pb.GetVersionOutcomesRequest(
            tenant_id=TENANT,
            plugin=PLUGIN,
            versions=["2.3.0"],
            start=to_timestamp(start),
            end=to_timestamp(start + timedelta(seconds=4)),
            step_seconds=2,
        ),
        NO_CONTEXT,
    )
    [series] = reply.series
    assert (series.summary.total, series.summary.errors) == (10, 1)
    assert series.summary.latency_mean_ms == 180.0
    assert 800 < series.summary.latency_p99_ms <= 900
    assert [i.total for i in series.intervals] == [10, 0]
    assert series.summary.start == to_timestamp(start)


async def test_a_range_without_an_end_is_refused(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """start and end are both required."""
    registered, _ = build(Dependencies(uow=store.uow_factory(), clock=clock, gauge=gauge)).servicers
    assert registered.name == "portico.slo.v1.SloService"
    with pytest.raises(InvalidSloDefinitionError):
        await registered.implementation.GetVersionOutcomes(
            pb.GetVersionOutcomesRequest(tenant_id=TENANT, plugin=PLUGIN, versions=["1.0.0"]),
            NO_CONTEXT,
        )


def test_a_batch_tallies_as_the_sum_of_its_outcomes() -> None:
    """A batch counted at once equals the sum of each outcome's own tally, bounds included."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    latencies = [0, 1, 5, 99, 100, 101, 999, 1000, 10_000, 60_000, 60_001, 250_000]
    outcomes = [
        (base + timedelta(milliseconds=370 * i), i % 3 != 0, latencies[i % len(latencies)])
        for i in range(60)
    ]
    expected: dict[int, Tally] = {}
    for at, success, latency in outcomes:
        key = second_of(at)
        expected[key] = expected.get(key, Tally()) + Tally.of(success, latency)
    assert tally(outcomes) == expected


def test_a_latency_lands_in_the_first_bucket_whose_bound_it_does_not_exceed() -> None:
    """On a bound it counts in that bound's bucket; past the last bound, in the open one."""
    at_bound = LATENCY_BOUNDS_MS.index(100)
    assert Tally.of(True, 100).histogram[at_bound] == 1
    assert Tally.of(True, 101).histogram[at_bound + 1] == 1
    assert Tally.of(True, 0).histogram[0] == 1
    assert Tally.of(True, LATENCY_BOUNDS_MS[-1] + 1).histogram[BUCKETS - 1] == 1
