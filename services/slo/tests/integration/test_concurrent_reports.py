"""Racing reports against real PostgreSQL: the row lock makes the violation a single event."""

from __future__ import annotations

import asyncio

import pytest

from portico_common.clock import ManualClock
from portico_common.db import Database
from portico_slo.adapters.memory import MemoryBurnRates
from portico_slo.adapters.postgres import pg_uow_factory
from portico_slo.app import handlers
from portico_slo.app.validation import ReportedOutcome

pytestmark = pytest.mark.integration


async def test_racing_reports_emit_one_violation_and_lose_no_counts(slo_db: Database) -> None:
    """Thirty concurrent failing reports write one slo.violated and all 300 outcomes.

    The version's breaker (created with the SLO, resilience4j's defaults) opens
    once too, on its 100th call.
    """
    clock = ManualClock()
    uow = pg_uow_factory(slo_db, clock)
    gauge = MemoryBurnRates()
    slo = await handlers.create_slo(
        uow, gauge, tenant_id="acme", plugin="@x/p", version="1.0.0", objective=0.99
    )

    results = await asyncio.gather(
        *(
            handlers.report_outcomes(
                uow,
                gauge,
                tenant_id="acme",
                plugin="@x/p",
                version="1.0.0",
                outcomes=[ReportedOutcome(False, 5)] * 10,
            )
            for _ in range(30)
        )
    )

    events = await slo_db.pool.fetch("SELECT event_type, tenant_id FROM outbox ORDER BY seq")
    async with slo_db.transaction("acme") as conn:
        outcomes = await conn.fetchval(
            "SELECT sum(good + bad) FROM outcome_buckets WHERE slo_id = $1", slo.slo_id
        )
    assert [(e["event_type"], e["tenant_id"]) for e in events] == [
        ("slo.violated", "acme"),
        ("slo.breaker.opened", "acme"),
    ]
    assert outcomes == 300
    assert all(r.violated for r in results)
