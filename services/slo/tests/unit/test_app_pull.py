"""Pulled SLIs: finished steps are read once, counted in their buckets, and judged like pushes."""

from __future__ import annotations

from datetime import datetime, timedelta

from portico_common.clock import ManualClock
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.app import handlers, pull
from portico_slo.app.ports import Sample
from portico_slo.domain.buckets import bucket_key
from portico_slo.domain.burn_rate import Counts
from portico_slo.domain.indicator import Indicator, PrometheusSource
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.templates import SloSpec

TENANT = "acme"


class FakeMetrics:
    """A MetricsSource answering from a function of the step, recording what was asked."""

    def __init__(self, bad_per_step: int = 0) -> None:
        self.bad_per_step = bad_per_step
        self.reads: list[tuple[datetime, datetime, int]] = []

    async def read(
        self, definition: SloDefinition, start: datetime, end: datetime, step_seconds: int
    ) -> list[Sample]:
        del definition  # every SLO reads the same
        self.reads.append((start, end, step_seconds))
        step = timedelta(seconds=step_seconds)
        samples, at = [], start
        while at < end:
            samples.append(Sample(at, Counts(good=100 - self.bad_per_step, bad=self.bad_per_step)))
            at += step
        return samples


async def pulled_slo(store: MemoryStore, gauge: MemoryBurnRates) -> str:
    spec = SloSpec(
        objective=0.99,
        indicator=Indicator(prometheus=PrometheusSource(good="ok_total", total="all_total")),
    )
    slo = await handlers.create_slo(
        store.uow_factory(), gauge, tenant_id=TENANT, plugin="@acme/p", version="1.0.0", spec=spec
    )
    return slo.slo_id


async def test_steps_are_read_once_and_counted(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """The first pull reads an hour back to the lag; the next only what finished since."""
    slo_id = await pulled_slo(store, gauge)
    source = FakeMetrics()

    first = await pull.pull_all(store.uow_factory(), gauge, source, lag_seconds=30)
    clock.advance(seconds=60)
    second = await pull.pull_all(store.uow_factory(), gauge, source, lag_seconds=30)
    again = await pull.pull_all(store.uow_factory(), gauge, source, lag_seconds=30)

    end = datetime.fromtimestamp(
        bucket_key(clock.now() - timedelta(seconds=90), 10), clock.now().tzinfo
    )
    assert (first, second, again) == (360, 6, 0)
    assert source.reads[0] == (end - timedelta(hours=1), end, 10)
    assert source.reads[1][0] == end
    total = sum(c.total for c in store.bucket_counts(slo_id).values())
    assert total == 366 * 100
    assert store.state.slos[slo_id].pulled_until == source.reads[1][1]


async def test_pulled_failures_violate_like_pushed_ones(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """20% bad steps from the source trip the page tier through the same evaluator."""
    slo_id = await pulled_slo(store, gauge)

    await pull.pull_all(store.uow_factory(), gauge, FakeMetrics(bad_per_step=20), lag_seconds=30)

    assert [e.tier for e, _ in store.sink.events] == ["page-1h"]  # type: ignore[attr-defined]
    assert store.state.slos[slo_id].status.tiers.keys() >= {"page-1h"}
    assert gauge.values[slo_id][0] >= 14.4


async def test_pushed_slos_are_not_pulled(store: MemoryStore, gauge: MemoryBurnRates) -> None:
    """Only SLOs with a pulled SLI are read."""
    await handlers.create_slo(
        store.uow_factory(),
        gauge,
        tenant_id=TENANT,
        plugin="@acme/p",
        version="1.0.0",
        objective=0.99,
    )
    source = FakeMetrics()
    assert await pull.pull_all(store.uow_factory(), gauge, source) == 0
    assert source.reads == []
