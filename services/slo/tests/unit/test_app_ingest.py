"""ReportOutcomes with event times and scopes: late outcomes land in their bucket."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portico_common.clock import ManualClock
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.app import handlers
from portico_slo.app.ports import SloRecord
from portico_slo.app.validation import ReportedOutcome
from portico_slo.domain.buckets import bucket_key
from portico_slo.domain.burn_rate import Counts
from portico_slo.domain.indicator import Indicator, PrometheusSource, SliKind
from portico_slo.domain.ingest import OutcomeResult
from portico_slo.domain.templates import SloSpec
from portico_slo.errors import InvalidOutcomeError, NoSloForVersionError

TENANT = "acme"
PLUGIN = "@acme/plugin-cost-insights"


async def create(
    store: MemoryStore,
    gauge: MemoryBurnRates,
    version: str = "2.3.0",
    rollout_id: str = "",
    spec: SloSpec | None = None,
) -> SloRecord:
    return await handlers.create_slo(
        store.uow_factory(),
        gauge,
        tenant_id=TENANT,
        plugin=PLUGIN,
        version=version,
        rollout_id=rollout_id,
        objective=0.99,
        spec=spec,
    )


async def report(
    store: MemoryStore,
    gauge: MemoryBurnRates,
    outcomes: list[ReportedOutcome],
    version: str = "2.3.0",
    rollout_id: str = "",
) -> handlers.ReportResult:
    return await handlers.report_outcomes(
        store.uow_factory(),
        gauge,
        tenant_id=TENANT,
        plugin=PLUGIN,
        version=version,
        rollout_id=rollout_id,
        outcomes=outcomes,
    )


async def test_outcomes_land_in_the_bucket_of_their_time(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Late and out-of-order outcomes are counted in the buckets of when they happened."""
    slo = await create(store, gauge)
    now = clock.now()
    times = [now - timedelta(seconds=s) for s in (0, 250, 42, 299, 61)]
    result = await report(store, gauge, [ReportedOutcome(True, 5, at) for at in times])

    assert result.accepted == 5
    assert result.results == (OutcomeResult.ACCEPTED,) * 5
    expected: dict[int, Counts] = {}
    for at in times:
        key = bucket_key(at, slo.bucket_seconds)
        expected[key] = expected.get(key, Counts()) + Counts(1, 0)
    assert store.bucket_counts(slo.slo_id) == expected


async def test_too_late_and_too_early_are_refused_one_by_one(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Outcomes older than 5 minutes or over a minute ahead are refused, counted, and said so."""
    slo = await create(store, gauge)
    now = clock.now()
    outcomes = [
        ReportedOutcome(False, 5, now - timedelta(seconds=301)),
        ReportedOutcome(True, 5, now - timedelta(seconds=300)),
        ReportedOutcome(True, 5),
        ReportedOutcome(False, 5, now + timedelta(seconds=61)),
        ReportedOutcome(True, 5, now + timedelta(seconds=60)),
    ]
    result = await report(store, gauge, outcomes)

    assert result.results == (
        OutcomeResult.TOO_LATE,
        OutcomeResult.ACCEPTED,
        OutcomeResult.ACCEPTED,
        OutcomeResult.TOO_EARLY,
        OutcomeResult.ACCEPTED,
    )
    assert (result.accepted, result.refused) == (3, 2)
    assert sum(c.total for c in store.bucket_counts(slo.slo_id).values()) == 3
    assert store.state.slos[slo.slo_id].refused_outcomes == 2
    # A report of only refused outcomes still answers, and still counts them.
    again = await report(store, gauge, [outcomes[0]])
    assert (again.accepted, again.refused) == (0, 1)
    assert store.state.slos[slo.slo_id].refused_outcomes == 3


async def test_naive_outcome_time_is_refused(store: MemoryStore, gauge: MemoryBurnRates) -> None:
    """An outcome time without a timezone is INVALID_ARGUMENT before any transaction."""
    from datetime import datetime

    await create(store, gauge)
    before = store.transactions
    naive = datetime(2026, 3, 1, 12)  # noqa: DTZ001 - the point of the test
    with pytest.raises(InvalidOutcomeError, match="outcome 0 has a time without a timezone"):
        await report(store, gauge, [ReportedOutcome(True, 5, naive)])
    assert store.transactions == before


async def test_one_report_counts_for_every_scope(
    store: MemoryStore, gauge: MemoryBurnRates
) -> None:
    """A canary's outcomes count for the plugin-wide, the version and the cohort SLOs alike."""
    plugin_wide = await create(store, gauge, version="")
    version = await create(store, gauge)
    canary = await create(store, gauge, rollout_id="r-1")
    other_cohort = await create(store, gauge, rollout_id="r-2")

    result = await report(store, gauge, [ReportedOutcome(True, 5)] * 4, rollout_id="r-1")
    stable = await report(store, gauge, [ReportedOutcome(True, 5)] * 2, version="2.2.0")

    def total(slo: SloRecord) -> int:
        return sum(c.total for c in store.bucket_counts(slo.slo_id).values())

    assert [total(s) for s in (plugin_wide, version, canary, other_cohort)] == [6, 4, 4, 0]
    assert result.slo_id == canary.slo_id  # the narrowest scope answers
    assert {s.slo_id for s in result.judged} == {plugin_wide.slo_id, version.slo_id, canary.slo_id}
    assert stable.slo_id == plugin_wide.slo_id


async def test_sli_kinds_judge_the_same_outcomes_differently(
    store: MemoryStore, gauge: MemoryBurnRates
) -> None:
    """Ratio counts failures; latency counts slow answers; both count either."""
    for name, kind in (
        ("ratio", SliKind.RATIO),
        ("latency", SliKind.LATENCY),
        ("both", SliKind.RATIO_AND_LATENCY),
    ):
        threshold = 0 if kind is SliKind.RATIO else 300
        await create(
            store,
            gauge,
            spec=SloSpec(
                objective=0.95, indicator=Indicator(kind, threshold), name=name, min_events=1000
            ),
        )
    outcomes = [
        ReportedOutcome(True, 100),
        ReportedOutcome(True, 900),  # slow
        ReportedOutcome(False, 100),  # failed
        ReportedOutcome(False, 900),  # both
    ]
    await report(store, gauge, outcomes)

    bad = {
        s.definition.name: sum(c.bad for c in store.bucket_counts(s.slo_id).values())
        for s in store.state.slos.values()
    }
    assert bad == {"ratio": 2, "latency": 2, "both": 3}


async def test_pulled_slos_take_no_pushed_outcomes(
    store: MemoryStore, gauge: MemoryBurnRates
) -> None:
    """An SLO whose SLI is pulled from Prometheus is not fed by ReportOutcomes."""
    pulled = SloSpec(
        objective=0.99,
        indicator=Indicator(prometheus=PrometheusSource(good="ok_total", total="all_total")),
    )
    await create(store, gauge, spec=pulled)

    with pytest.raises(NoSloForVersionError):
        await report(store, gauge, [ReportedOutcome(True, 5)])
