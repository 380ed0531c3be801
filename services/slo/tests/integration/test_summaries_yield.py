"""Reading every SLO's window sums for the evaluator's tick lets other work run meanwhile.

With every tenant's SLOs in one process the rows run to tens of thousands;
turning them into summaries hands the event loop back now and then, so the
RPCs the process serves are not held until the whole read is done.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from portico_common.clock import ManualClock
from portico_common.db import ALL_TENANTS, Database
from portico_slo.adapters import postgres_buckets
from portico_slo.adapters.postgres import pg_uow_factory
from portico_slo.app.ports import SloRecord
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.slo import SloStatus

pytestmark = pytest.mark.integration


async def test_all_summaries_hands_the_event_loop_back_while_it_converts_rows(
    slo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A probe runs between the conversions of the rows, and the read still covers every SLO."""
    monkeypatch.setattr(postgres_buckets, "ROWS_PER_YIELD", 2)
    clock = ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    uow = pg_uow_factory(slo_db, clock)
    total = 7
    for i in range(total):
        definition = SloDefinition.with_defaults(
            slo_id=f"slo-{i}", tenant_id=f"t{i}", plugin="@acme/p", version="1.0.0",
            objective=0.995, latency_threshold_ms=250, min_events=20,
        )  # fmt: skip
        async with uow(f"t{i}") as tx:
            assert await tx.slos.add(
                SloRecord(definition, SloStatus(slo_id=f"slo-{i}"), 10, clock.now())
            )
    probes = 0
    seen_by_conversions: list[int] = []
    convert = postgres_buckets._summary

    def observed(row: Any) -> Any:
        seen_by_conversions.append(probes)
        return convert(row)

    monkeypatch.setattr(postgres_buckets, "_summary", observed)

    async def read() -> int:
        async with uow(ALL_TENANTS) as tx:
            return len(await tx.buckets.all_summaries(clock.now()))

    task = asyncio.ensure_future(read())
    while not task.done():
        probes += 1
        await asyncio.sleep(0)
    assert await task == total
    # Converting the rows one after the other without a pause, every conversion
    # would see the probe at the same count.
    assert len(seen_by_conversions) >= total  # a row per SLO and window
    assert seen_by_conversions[0] < seen_by_conversions[-1], seen_by_conversions
