"""The evaluator's tick on PostgreSQL reads the few SLOs it can change, not every idle one.

Thousands of SLOs without outcomes in their windows, OK and with their gauges
at 0 would only be judged to set 0 again; the tick's read leaves them out, and
the ones it reads are judged as a read of every SLO would judge them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from portico_common.clock import ManualClock
from portico_common.db import ALL_TENANTS, Database
from portico_slo.adapters import postgres_buckets
from portico_slo.adapters.memory import MemoryBurnRates
from portico_slo.adapters.postgres import pg_uow_factory
from portico_slo.app import handlers
from portico_slo.app.evaluation import Tick, would_change
from portico_slo.app.ports import SloRecord
from portico_slo.app.validation import ReportedOutcome
from portico_slo.domain.buckets import bucket_key
from portico_slo.domain.burn_rate import Counts, evaluate
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.slo import SloState, SloStatus
from portico_slo.domain.templates import SloSpec

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
IDLE = 2000
BUCKET = 10
PLUGIN = "@acme/p"


async def test_a_tick_over_thousands_of_idle_slos_reads_and_judges_only_the_active(
    slo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Of 2,003 SLOs the tick reads 3: one with fresh outcomes, one violated whose outcomes
    left its windows (it recovers) and one whose gauge burned (it falls to 0)."""
    clock = ManualClock(T0)
    uow = pg_uow_factory(slo_db, clock)
    gauge = MemoryBurnRates()
    async with uow(ALL_TENANTS) as tx:
        for i in range(IDLE):
            definition = SloDefinition.with_defaults(
                slo_id=f"idle-{i:04}", tenant_id=f"idle-{i % 100:02}", plugin=PLUGIN,
                version=f"1.0.{i}", objective=0.995, latency_threshold_ms=250, min_events=20,
            )  # fmt: skip
            slo = SloRecord(definition, SloStatus(slo_id=definition.slo_id), BUCKET, clock.now())
            assert await tx.slos.add(slo)
            if i % 4 == 0:  # outcomes that will be older than every window
                await tx.buckets.add(slo.tenant_id, slo.slo_id, {bucket_key(T0): Counts(9, 1)})

    async def create(tenant_id: str) -> SloRecord:
        return await handlers.create_slo(
            uow, gauge, tenant_id=tenant_id, plugin=PLUGIN, version="2.0.0",
            spec=SloSpec(objective=0.99),
        )  # fmt: skip

    async def report(tenant_id: str, good: int, bad: int, to: MemoryBurnRates) -> None:
        await handlers.report_outcomes(
            uow, to, tenant_id=tenant_id, plugin=PLUGIN, version="2.0.0",
            outcomes=[ReportedOutcome(True, 5)] * good + [ReportedOutcome(False, 5)] * bad,
        )  # fmt: skip

    violated, burning, busy = (
        await create("violated"),
        await create("burning"),
        await create("busy"),
    )
    await report("violated", 20, 20, MemoryBurnRates())  # the gauge never shows it
    await report("burning", 995, 5, gauge)  # burns without firing
    assert gauge.burning() == {burning.slo_id}
    clock.advance(days=4)  # past the longest window (3 days)
    await report("busy", 990, 10, gauge)

    # What judging every SLO would do, read beforehand in one snapshot.
    async with uow(ALL_TENANTS) as tx:
        every = await tx.buckets.all_summaries(clock.now())
    expected = {}
    for slo, windows in every:
        evaluation = evaluate(slo.definition, windows)
        burns = (evaluation.short_burn, evaluation.long_burn)
        if slo.slo_id.startswith("idle-"):
            assert burns == (0.0, 0.0)
            assert not would_change(slo, evaluation, clock.now())
        else:
            expected[slo.slo_id] = burns
    assert len(every) == IDLE + 3

    conversions = 0
    convert = postgres_buckets._summary

    def counted(row: Any) -> Any:
        nonlocal conversions
        conversions += 1
        return convert(row)

    monkeypatch.setattr(postgres_buckets, "_summary", counted)
    assert await handlers.refresh_burn_rates(uow, gauge) == Tick(evaluated=3, total=IDLE + 3)
    spans = len(busy.definition.alerting.windows)
    # The read's 3 SLOs' windows and those of the recovering SLO judged again:
    # no idle SLO's windows were summed or sent.
    assert conversions == 3 * spans + spans

    assert {k: v for k, v in gauge.values.items() if not k.startswith("idle-")} == expected
    assert expected[burning.slo_id] == (0.0, 0.0)
    assert expected[violated.slo_id] == (0.0, 0.0)
    assert expected[busy.slo_id] != (0.0, 0.0)
    async with uow("violated") as tx:
        recovered = await tx.slos.get("violated", violated.slo_id)
        [history] = await tx.violations.recent("violated", violated.slo_id, limit=5)
    assert recovered is not None
    assert recovered.status.state is SloState.OK
    assert recovered.status.tiers == {}
    assert history.recovered_at == clock.now()

    # Once the gauges are at 0 only the SLO with outcomes in its windows is read.
    clock.advance(minutes=1)
    conversions = 0
    assert await handlers.refresh_burn_rates(uow, gauge) == Tick(evaluated=1, total=IDLE + 3)
    assert conversions == spans

    # A restarted process's first tick judges them all: every SLO gets its series.
    restarted = MemoryBurnRates()
    assert await handlers.refresh_burn_rates(uow, restarted, everything=True) == Tick(
        evaluated=IDLE + 3, total=IDLE + 3
    )
    assert len(restarted.values) == IDLE + 3
    assert restarted.values[busy.slo_id] == gauge.values[busy.slo_id]
    assert restarted.burning() == {busy.slo_id}
