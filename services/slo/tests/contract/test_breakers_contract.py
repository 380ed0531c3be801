"""The breaker port's promises, kept alike by the in-memory and the PostgreSQL adapter."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from portico_common.tenants import ALL_TENANTS
from portico_slo.app.breakers_ports import BreakerFilter, BreakerRecord
from portico_slo.domain.breakers import Breaker
from portico_slo.domain.breakers_config import BreakerConfig, BreakerState, WindowType

if TYPE_CHECKING:
    # conftest is not importable at run time under --import-mode=importlib.
    from conftest import Backend

PLUGIN = "@acme/plugin-x"
EVERY_FIELD = BreakerConfig(
    sliding_window_type=WindowType.TIME_BASED,
    sliding_window_size=30,
    minimum_number_of_calls=3,
    failure_rate_threshold=25.5,
    slow_call_rate_threshold=75,
    slow_call_duration_threshold=timedelta(milliseconds=250),
    wait_duration_in_open_state=timedelta(seconds=5, microseconds=7),
    wait_duration_multiplier=1.5,
    max_wait_duration_in_open_state=timedelta(minutes=2),
    permitted_number_of_calls_in_half_open_state=2,
    automatic_transition_from_open_to_half_open_enabled=True,
    max_wait_duration_in_half_open_state=timedelta(seconds=20),
    transition_to_state_after_wait_duration=BreakerState.CLOSED,
)


def new(
    backend: Backend,
    version: str = "1.0.0",
    *,
    tenant_id: str = "acme",
    config: BreakerConfig | None = None,
) -> BreakerRecord:
    now = backend.clock.now()
    breaker = Breaker.create(
        breaker_id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        plugin=PLUGIN,
        version=version,
        config=config or BreakerConfig(sliding_window_size=3, minimum_number_of_calls=3),
        now=now,
        slo_id="slo-1",
    )
    return BreakerRecord(breaker, created_at=now, updated_at=now)


async def add(backend: Backend, *records: BreakerRecord) -> None:
    for record in records:
        async with backend.uow(record.tenant_id) as tx:
            assert await tx.breakers.add(record)


async def test_one_breaker_per_plugin_version(backend: Backend) -> None:
    """A second breaker for the same version is refused; another version or tenant is not."""
    await add(backend, new(backend))
    async with backend.uow("acme") as tx:
        assert not await tx.breakers.add(new(backend))
        assert await tx.breakers.add(new(backend, "2.0.0"))
    async with backend.uow("globex") as tx:
        assert await tx.breakers.add(new(backend, tenant_id="globex"))


async def test_the_whole_state_machine_survives_a_round_trip(backend: Backend) -> None:
    """Configuration, state, window, counters and times read back exactly as saved, with events."""
    record = new(backend, config=EVERY_FIELD)
    await add(backend, record)
    clock = backend.clock
    breaker = record.breaker
    for _ in range(3):
        breaker.record(False, 300, clock.now(), clock.now())
    assert breaker.state is BreakerState.OPEN
    breaker.record(True, 5, clock.now(), clock.now())  # not permitted
    clock.advance(seconds=1)
    saved = replace(record, updated_at=clock.now())
    async with backend.uow("acme") as tx:
        await tx.breakers.save(saved, [])
    async with backend.uow("acme") as tx:
        got = await tx.breakers.get("acme", record.breaker_id)
        by_version = await tx.breakers.for_version("acme", PLUGIN, "1.0.0", lock=True)
    assert got == saved
    assert by_version == saved
    assert got is not None
    assert got.breaker.config == EVERY_FIELD
    assert got.breaker.metrics(clock.now()) == breaker.metrics(clock.now())


async def test_events_commit_with_the_state_or_not_at_all(backend: Backend) -> None:
    """save() queues the breaker's events in its transaction: a rollback loses both."""
    record = new(backend)
    await add(backend, record)
    now = backend.clock.now()
    events = record.breaker.transition(BreakerState.FORCED_OPEN, now, actor="ops")

    async def save_then_fail() -> None:
        async with backend.uow("acme") as tx:
            await tx.breakers.save(record, events)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await save_then_fail()
    async with backend.uow("acme") as tx:
        kept = await tx.breakers.get("acme", record.breaker_id)
    assert kept is not None
    assert kept.breaker.state is BreakerState.CLOSED
    assert await backend.committed_events() == []
    async with backend.uow("acme") as tx:
        await tx.breakers.save(record, events)
    assert await backend.committed_events() == [("slo.breaker.forced_open", "acme")]


async def test_tenants_see_only_their_breakers(backend: Backend) -> None:
    """Reads, saves and deletes in one tenant's transaction never reach another's breaker."""
    theirs = new(backend, tenant_id="globex")
    await add(backend, theirs)
    async with backend.uow("acme") as tx:
        assert await tx.breakers.get("globex", theirs.breaker_id) is None
        assert await tx.breakers.for_version("globex", PLUGIN, "1.0.0", lock=False) is None
        assert await tx.breakers.page("globex", BreakerFilter(), after="", limit=10) == []
        theirs.breaker.transition(BreakerState.DISABLED, backend.clock.now())
        await tx.breakers.save(theirs, [])
        assert not await tx.breakers.delete("globex", theirs.breaker_id)
    async with backend.uow("globex") as tx:
        kept = await tx.breakers.get("globex", theirs.breaker_id)
    assert kept is not None
    assert kept.breaker.state is BreakerState.CLOSED


async def test_pages_by_plugin_and_version_with_filters(backend: Backend) -> None:
    """Ordered by plugin@version, after the token, filtered by version and state."""
    records = [new(backend, v) for v in ("3.0.0", "1.0.0", "2.0.0")]
    await add(backend, *records)
    records[0].breaker.transition(BreakerState.FORCED_OPEN, backend.clock.now())
    async with backend.uow("acme") as tx:
        await tx.breakers.save(records[0], [])
        everything = await tx.breakers.page("acme", BreakerFilter(), after="", limit=10)
        after = await tx.breakers.page("acme", BreakerFilter(), after=f"{PLUGIN}@1.0.0", limit=1)
        forced = await tx.breakers.page(
            "acme", BreakerFilter(state=BreakerState.FORCED_OPEN), after="", limit=10
        )
        two = await tx.breakers.page(
            "acme", BreakerFilter(plugin=PLUGIN, version="2.0.0"), after="", limit=10
        )
    assert [r.breaker.version for r in everything] == ["1.0.0", "2.0.0", "3.0.0"]
    assert [r.breaker.version for r in after] == ["2.0.0"]
    assert [r.breaker.version for r in forced] == ["3.0.0"]
    assert [r.breaker.version for r in two] == ["2.0.0"]


async def test_due_lists_what_the_tick_would_move(backend: Backend) -> None:
    """Only open breakers with automatic transition (or half-open with a wait) whose time came."""
    automatic = new(backend, "1.0.0", config=EVERY_FIELD)
    manual = new(backend, "2.0.0")
    other = new(backend, "1.0.0", tenant_id="globex", config=EVERY_FIELD)
    await add(backend, automatic, manual, other)
    now = backend.clock.now()
    for record in (automatic, manual, other):
        record.breaker.transition(BreakerState.OPEN, now)
        async with backend.uow(record.tenant_id) as tx:
            await tx.breakers.save(record, [])
    async with backend.uow(ALL_TENANTS) as tx:
        assert await tx.breakers.due(now + timedelta(seconds=4), 10) == []
        due = await tx.breakers.due(now + timedelta(seconds=5, microseconds=7), 10)
    assert sorted(r.breaker_id for r in due) == sorted([automatic.breaker_id, other.breaker_id])
    async with backend.uow("acme") as tx:
        mine = await tx.breakers.due(now + timedelta(minutes=1), 10)
        assert [r.breaker_id for r in mine] == [automatic.breaker_id]
        assert await tx.breakers.delete("acme", automatic.breaker_id)
        assert await tx.breakers.get("acme", automatic.breaker_id) is None
