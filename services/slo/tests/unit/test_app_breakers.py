"""Breaker use cases on the in-memory store: created with SLOs, fed by reports, forced, ticked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portico.events.v1 import events_pb2 as ev
from portico_common.clock import ManualClock
from portico_common.events.catalog import type_of
from portico_common.timestamps import timestamp_field
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.app import breakers, handlers
from portico_slo.app.breakers import ForceAction
from portico_slo.app.breakers_ports import BreakerFilter, BreakerRecord
from portico_slo.app.validation import ReportedOutcome
from portico_slo.domain.breakers_config import BreakerConfig, BreakerState
from portico_slo.domain.indicator import Indicator, PrometheusSource
from portico_slo.domain.templates import SloSpec
from portico_slo.errors import (
    BreakerNotFoundError,
    IllegalBreakerTransitionError,
    InvalidBreakerError,
    NoSloForVersionError,
)

TENANT = "acme"
PLUGIN = "@acme/plugin-cost-insights"
SMALL = BreakerConfig(sliding_window_size=5, minimum_number_of_calls=5)


async def configure(
    store: MemoryStore, config: BreakerConfig = SMALL, version: str = "2.3.0"
) -> BreakerRecord:
    record, _ = await breakers.configure_breaker(
        store.uow_factory(), tenant_id=TENANT, plugin=PLUGIN, version=version, config=config
    )
    return record


async def report(
    store: MemoryStore,
    gauge: MemoryBurnRates,
    outcomes: list[ReportedOutcome],
    version: str = "2.3.0",
) -> handlers.ReportResult:
    return await handlers.report_outcomes(
        store.uow_factory(),
        gauge,
        tenant_id=TENANT,
        plugin=PLUGIN,
        version=version,
        outcomes=outcomes,
    )


def fails(n: int) -> list[ReportedOutcome]:
    return [ReportedOutcome(False, 5)] * n


def oks(n: int) -> list[ReportedOutcome]:
    return [ReportedOutcome(True, 5)] * n


async def state_of(store: MemoryStore, breaker_id: str) -> BreakerState:
    record = await breakers.get_breaker(
        store.uow_factory(), tenant_id=TENANT, breaker_id=breaker_id
    )
    return record.breaker.state


def breaker_events(store: MemoryStore) -> list[tuple[str, str, str]]:
    """(event type, from, to) of each breaker event committed, in order."""
    found = []
    for event in store.events:
        change = getattr(event, "change", None)
        if isinstance(change, ev.BreakerChange):
            found.append((type_of(event), change.from_state, change.to_state))
    return found


async def test_a_version_slo_brings_a_breaker_with_resilience4j_defaults(
    store: MemoryStore, gauge: MemoryBurnRates
) -> None:
    """Creating a version's SLO creates its breaker, closed, with the defaults, in one go."""
    slo = await handlers.create_slo(
        store.uow_factory(), gauge, tenant_id=TENANT, plugin=PLUGIN, version="2.3.0", objective=0.99
    )
    await handlers.create_slo(
        store.uow_factory(),
        gauge,
        tenant_id=TENANT,
        plugin=PLUGIN,
        version="2.3.0",
        rollout_id="r",
        objective=0.99,
    )
    await handlers.create_slo(
        store.uow_factory(), gauge, tenant_id=TENANT, plugin=PLUGIN, version="", objective=0.99
    )
    pulled = SloSpec(
        objective=0.99, indicator=Indicator(prometheus=PrometheusSource(good="g", total="t"))
    )
    await handlers.create_slo(
        store.uow_factory(), gauge, tenant_id=TENANT, plugin=PLUGIN, version="9.0.0", spec=pulled
    )

    page, _ = await breakers.list_breakers(
        store.uow_factory(), tenant_id=TENANT, where=BreakerFilter()
    )
    [breaker] = [r.breaker for r in page]
    assert (breaker.plugin, breaker.version, breaker.slo_id) == (PLUGIN, "2.3.0", slo.slo_id)
    assert breaker.config == BreakerConfig()
    assert breaker.state is BreakerState.CLOSED
    assert store.events == []


async def test_reports_feed_the_breaker_in_their_transaction(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """The fifth outcome of a 60%-failing report opens it; the opening is committed with it."""
    await handlers.create_slo(
        store.uow_factory(), gauge, tenant_id=TENANT, plugin=PLUGIN, version="2.3.0", objective=0.99
    )
    record = await configure(store)
    await report(store, gauge, fails(3) + oks(2))

    assert await state_of(store, record.breaker_id) == BreakerState.OPEN
    opened = [e for e in store.events if isinstance(e, ev.BreakerOpened)]
    [event] = opened
    assert event.change.breaker_id == record.breaker_id
    assert (event.change.calls, event.change.failed_calls) == (5, 3)
    assert event.change.failure_rate == 60.0
    assert event.change.summary == "CLOSED -> OPEN: failure rate 60% >= 50% over 5 calls"
    assert timestamp_field(event, "open_until") == clock.now() + timedelta(seconds=60)


async def test_a_breaker_alone_judges_a_version_without_slo(
    store: MemoryStore, gauge: MemoryBurnRates
) -> None:
    """With a breaker and no SLO, a report is taken; with neither it is refused."""
    record = await configure(store)
    result = await report(store, gauge, fails(5))
    assert (result.slo_id, result.accepted, result.violated) == ("", 5, False)
    assert await state_of(store, record.breaker_id) == BreakerState.OPEN
    with pytest.raises(NoSloForVersionError):
        await report(store, gauge, fails(1), version="9.9.9")


async def test_only_accepted_outcomes_reach_the_breaker_oldest_first(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Refused outcomes are not calls; the others are fed in the order they happened."""
    record = await configure(store, BreakerConfig(sliding_window_size=2, minimum_number_of_calls=2))
    now = clock.now()
    batch = [
        ReportedOutcome(True, 5, now),
        ReportedOutcome(False, 5, now - timedelta(hours=1)),  # too late: refused
        ReportedOutcome(False, 5, now - timedelta(seconds=2)),
        ReportedOutcome(False, 5, now - timedelta(seconds=1)),
    ]
    result = await report(store, gauge, batch)
    got = await breakers.get_breaker(
        store.uow_factory(), tenant_id=TENANT, breaker_id=record.breaker_id
    )
    assert result.refused == 1
    # Oldest first: F, F opened it at 100%; the success came after, while open.
    assert got.breaker.state is BreakerState.OPEN
    assert got.breaker.metrics(now).not_permitted_calls == 1
    assert breaker_events(store) == [("slo.breaker.opened", "CLOSED", "OPEN")]


async def test_an_open_breaker_tries_again_after_its_wait(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Open: calls are not permitted until the wait ends; then trials close it again."""
    config = BreakerConfig(
        sliding_window_size=5,
        minimum_number_of_calls=5,
        permitted_number_of_calls_in_half_open_state=2,
        wait_duration_in_open_state=timedelta(seconds=30),
    )
    record = await configure(store, config)
    await report(store, gauge, fails(5))
    clock.advance(seconds=30)
    await report(store, gauge, oks(1))
    assert await state_of(store, record.breaker_id) == BreakerState.OPEN
    clock.advance(seconds=1)
    await report(store, gauge, oks(2))
    assert await state_of(store, record.breaker_id) == BreakerState.CLOSED
    assert breaker_events(store) == [
        ("slo.breaker.opened", "CLOSED", "OPEN"),
        ("slo.breaker.half_opened", "OPEN", "HALF_OPEN"),
        ("slo.breaker.closed", "HALF_OPEN", "CLOSED"),
    ]


async def test_the_tick_moves_breakers_with_automatic_transition(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Automatic transition: the tick half-opens at the end of the wait, without any report."""
    automatic = BreakerConfig(
        sliding_window_size=5,
        minimum_number_of_calls=5,
        wait_duration_in_open_state=timedelta(seconds=10),
        automatic_transition_from_open_to_half_open_enabled=True,
    )
    record = await configure(store, automatic)
    manual = await configure(store, SMALL, version="2.4.0")
    await report(store, gauge, fails(5))
    await report(store, gauge, fails(5), version="2.4.0")
    clock.advance(seconds=9)
    assert await breakers.tick_breakers(store.uow_factory()) == 0
    clock.advance(seconds=1)
    assert await breakers.tick_breakers(store.uow_factory()) == 1
    assert await state_of(store, record.breaker_id) == BreakerState.HALF_OPEN
    assert await state_of(store, manual.breaker_id) == BreakerState.OPEN
    assert await breakers.tick_breakers(store.uow_factory()) == 0


async def test_operators_force_only_allowed_transitions(
    store: MemoryStore, clock: ManualClock
) -> None:
    """Force open names who and why; closed -> half-open is refused and changes nothing."""
    record = await configure(store)
    uow = store.uow_factory()
    with pytest.raises(IllegalBreakerTransitionError):
        await breakers.force_breaker(
            uow, tenant_id=TENANT, breaker_id=record.breaker_id, action=ForceAction.HALF_OPEN
        )
    assert store.events == []
    opened = await breakers.force_breaker(
        uow,
        tenant_id=TENANT,
        breaker_id=record.breaker_id,
        action=ForceAction.OPEN,
        actor="alice",
        note="bad deploy",
        open_for=timedelta(minutes=5),
    )
    assert opened.breaker.open_until == clock.now() + timedelta(minutes=5)
    reset = await breakers.force_breaker(
        uow, tenant_id=TENANT, breaker_id=record.breaker_id, action=ForceAction.RESET
    )
    assert reset.breaker.state is BreakerState.CLOSED
    first, second = store.events
    assert isinstance(first, ev.BreakerOpened)
    assert (first.change.reason, first.change.actor, first.change.note) == (
        "forced",
        "alice",
        "bad deploy",
    )
    assert isinstance(second, ev.BreakerClosed)
    assert second.change.reason == "reset"
    with pytest.raises(InvalidBreakerError, match="open_for"):
        await breakers.force_breaker(
            uow,
            tenant_id=TENANT,
            breaker_id=record.breaker_id,
            action=ForceAction.FORCE_OPEN,
            open_for=timedelta(minutes=5),
        )


async def test_reconfiguring_keeps_the_state(store: MemoryStore, gauge: MemoryBurnRates) -> None:
    """A new configuration leaves an open breaker open; the same one again writes nothing."""
    record = await configure(store)
    await report(store, gauge, fails(5))
    before = len(store.events)
    same, created = await breakers.configure_breaker(
        store.uow_factory(), tenant_id=TENANT, plugin=PLUGIN, version="2.3.0", config=SMALL
    )
    assert not created
    assert same.updated_at == record.updated_at
    wider = BreakerConfig(sliding_window_size=50, minimum_number_of_calls=50)
    changed = await configure(store, wider)
    assert changed.breaker_id == record.breaker_id
    assert (changed.breaker.state, changed.breaker.config) == (BreakerState.OPEN, wider)
    assert len(store.events) == before


async def test_listing_filters_and_pages(store: MemoryStore, gauge: MemoryBurnRates) -> None:
    """Breakers list by plugin@version, filtered by state, a page at a time."""
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        await configure(store, version=version)
    await report(store, gauge, fails(5), version="2.0.0")
    uow = store.uow_factory()
    first, token = await breakers.list_breakers(
        uow, tenant_id=TENANT, where=BreakerFilter(), page_size=2
    )
    rest, last = await breakers.list_breakers(
        uow, tenant_id=TENANT, where=BreakerFilter(), page_size=2, page_token=token
    )
    opened, _ = await breakers.list_breakers(
        uow, tenant_id=TENANT, where=BreakerFilter(state=BreakerState.OPEN)
    )
    assert [r.breaker.version for r in first + rest] == ["1.0.0", "2.0.0", "3.0.0"]
    assert (token, last) == (f"{PLUGIN}@2.0.0", "")
    assert [r.breaker.version for r in opened] == ["2.0.0"]
    with pytest.raises(InvalidBreakerError, match="page_size"):
        await breakers.list_breakers(uow, tenant_id=TENANT, where=BreakerFilter(), page_size=501)


async def test_breakers_are_per_tenant_and_deletable(store: MemoryStore) -> None:
    """Another tenant cannot see a breaker; a deleted one is gone."""
    record = await configure(store)
    uow = store.uow_factory()
    with pytest.raises(BreakerNotFoundError):
        await breakers.get_breaker(uow, tenant_id="globex", breaker_id=record.breaker_id)
    await breakers.delete_breaker(uow, tenant_id=TENANT, breaker_id=record.breaker_id)
    with pytest.raises(BreakerNotFoundError):
        await breakers.delete_breaker(uow, tenant_id=TENANT, breaker_id=record.breaker_id)
    with pytest.raises(InvalidBreakerError, match="breaker_id"):
        await breakers.get_breaker(uow, tenant_id=TENANT, breaker_id="")
