"""Breakers on real PostgreSQL: replicas racing on one breaker agree, and a restart resumes it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from portico.events.v1 import events_pb2 as ev
from portico_common.clock import ManualClock
from portico_common.db import Database, open_database
from portico_embedded.testing.databases import service_url
from portico_slo.adapters.memory import MemoryBurnRates
from portico_slo.adapters.postgres import pg_uow_factory
from portico_slo.app import breakers, handlers
from portico_slo.app.ports import UnitOfWorkFactory
from portico_slo.app.validation import ReportedOutcome
from portico_slo.bootstrap import SERVICE
from portico_slo.domain.breakers_config import BreakerConfig, BreakerState

pytestmark = pytest.mark.integration

PLUGIN = "@x/p"


async def test_replicas_racing_on_one_breaker_lose_no_call_and_open_it_once(
    slo_db: Database, database_url: str
) -> None:
    """Twenty reports from two replicas at once: all 100 calls counted, one opening at 60%.

    The window (100 calls, judged at 100) only opens the breaker if no
    report's calls were lost to another's write: the row lock orders them.
    """
    clock = ManualClock()
    other = await open_database(service_url(database_url, SERVICE), SERVICE, max_size=8)
    replicas = [pg_uow_factory(slo_db, clock), pg_uow_factory(other, clock)]
    try:
        record, _ = await breakers.configure_breaker(
            replicas[0], tenant_id="acme", plugin=PLUGIN, version="1.0.0", config=BreakerConfig()
        )
        batch = [ReportedOutcome(False, 5)] * 3 + [ReportedOutcome(True, 5)] * 2
        await asyncio.gather(
            *(
                handlers.report_outcomes(
                    replicas[i % 2],
                    MemoryBurnRates(),
                    tenant_id="acme",
                    plugin=PLUGIN,
                    version="1.0.0",
                    outcomes=batch,
                )
                for i in range(20)
            )
        )
        got = await breakers.get_breaker(
            replicas[1], tenant_id="acme", breaker_id=record.breaker_id
        )
    finally:
        await other.close()

    metrics = got.breaker.metrics(clock.now())
    assert got.breaker.state is BreakerState.OPEN
    assert (metrics.window.calls, metrics.window.failed, metrics.failure_rate) == (100, 60, 60.0)
    events = await slo_db.pool.fetch("SELECT event_type, payload FROM outbox ORDER BY seq")
    assert [e["event_type"] for e in events] == ["slo.breaker.opened"]
    opened = ev.BreakerOpened.FromString(events[0]["payload"])
    assert (opened.change.breaker_id, opened.change.calls) == (record.breaker_id, 100)


async def test_a_restarted_service_resumes_the_breaker_where_it_stood(
    slo_db: Database, database_url: str
) -> None:
    """Opened before a restart; after it, the wait counts from the opening and trials close it."""
    clock = ManualClock()
    config = BreakerConfig(
        sliding_window_size=4,
        minimum_number_of_calls=4,
        permitted_number_of_calls_in_half_open_state=2,
        wait_duration_in_open_state=timedelta(seconds=30),
    )
    before = pg_uow_factory(slo_db, clock)
    record, _ = await breakers.configure_breaker(
        before, tenant_id="acme", plugin=PLUGIN, version="1.0.0", config=config
    )
    gauge = MemoryBurnRates()

    async def report(uow: UnitOfWorkFactory, *, success: bool, count: int) -> None:
        await handlers.report_outcomes(
            uow,
            gauge,
            tenant_id="acme",
            plugin=PLUGIN,
            version="1.0.0",
            outcomes=[ReportedOutcome(success, 5)] * count,
        )

    await report(before, success=False, count=4)
    await slo_db.close()  # the service stops; nothing of it survives but the database

    reopened = await open_database(service_url(database_url, SERVICE), SERVICE, max_size=4)
    try:
        after = pg_uow_factory(reopened, clock)
        clock.advance(seconds=29)
        await report(after, success=True, count=1)  # still open: not permitted
        resumed = await breakers.get_breaker(after, tenant_id="acme", breaker_id=record.breaker_id)
        assert resumed.breaker.state is BreakerState.OPEN
        assert resumed.breaker.metrics(clock.now()).not_permitted_calls == 1
        clock.advance(seconds=2)
        await report(after, success=True, count=2)
        closed = await breakers.get_breaker(after, tenant_id="acme", breaker_id=record.breaker_id)
        events = await reopened.pool.fetch("SELECT event_type, payload FROM outbox ORDER BY seq")
    finally:
        await reopened.close()

    assert closed.breaker.state is BreakerState.CLOSED
    assert [e["event_type"] for e in events] == [
        "slo.breaker.opened",
        "slo.breaker.half_opened",
        "slo.breaker.closed",
    ]
    closing = ev.BreakerClosed.FromString(events[2]["payload"])
    assert (closing.change.reason, closing.change.transition_id) == (
        "trial_passed",
        f"{record.breaker_id}/3",
    )
