"""ReportOutcomes in the app layer: counting, the multiwindow rule, and the one push."""

from __future__ import annotations

import asyncio

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from portico.events.v1 import events_pb2
from portico_common.clock import ManualClock
from portico_common.tenants import InvalidTenantIdError
from portico_slo.adapters.memory import MemoryBurnRates, MemoryStore
from portico_slo.app import handlers
from portico_slo.app.ports import SloRecord
from portico_slo.app.validation import MAX_OUTCOMES_PER_REPORT, ReportedOutcome
from portico_slo.domain.slo import SloState
from portico_slo.errors import InvalidOutcomeError, InvalidSloDefinitionError

TENANT = "acme"
PLUGIN = "@acme/plugin-cost-insights"
VERSION = "2.3.0"


def batch(good: int = 0, bad: int = 0, latency_ms: int = 50) -> list[ReportedOutcome]:
    """`good` successes and `bad` failures, all at the same latency."""
    return [ReportedOutcome(True, latency_ms)] * good + [ReportedOutcome(False, latency_ms)] * bad


async def create(
    store: MemoryStore, gauge: MemoryBurnRates, version: str = VERSION, **fields: int
) -> SloRecord:
    fields.setdefault("latency_threshold_ms", 300)
    return await handlers.create_slo(
        store.uow_factory(),
        gauge,
        tenant_id=TENANT,
        plugin=PLUGIN,
        version=version,
        objective=0.99,
        **fields,
    )


async def report(
    store: MemoryStore,
    gauge: MemoryBurnRates,
    outcomes: list[ReportedOutcome],
    version: str = VERSION,
) -> handlers.ReportResult:
    return await handlers.report_outcomes(
        store.uow_factory(),
        gauge,
        tenant_id=TENANT,
        plugin=PLUGIN,
        version=version,
        outcomes=outcomes,
    )


def violations(store: MemoryStore) -> list[events_pb2.SloViolated]:
    found = store.sink.of_type(events_pb2.SloViolated)
    assert all(isinstance(e, events_pb2.SloViolated) for e in found)
    return found  # type: ignore[return-value]


async def test_burst_of_failures_trips_once(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """A burst of failures emits one slo.violated with the rule and rates; more failures, none."""
    slo = await create(store, gauge)
    calm = await report(store, gauge, batch(good=20))
    clock.advance(30)
    tripped = await report(store, gauge, batch(bad=10))
    detected_at = clock.now()
    clock.advance(30)
    again = await report(store, gauge, batch(bad=50))

    assert (calm.violated, tripped.violated, again.violated) == (False, True, True)
    assert len(store.sink.events) == 1
    event, subject = store.sink.events[0]
    expected_burn = (10 / 30) / (1 - 0.99)
    assert event == events_pb2.SloViolated(
        tenant_id=TENANT,
        slo_id=slo.slo_id,
        plugin=PLUGIN,
        version=VERSION,
        rule="burn rate >= 14.4 over 5m and 1h",
        short_window_burn_rate=tripped.short_window_burn_rate,
        long_window_burn_rate=tripped.long_window_burn_rate,
        threshold=14.4,
        detected_at=Timestamp(seconds=int(detected_at.timestamp())),
        tier="page-1h",
        severity="page",
        short_window_seconds=300,
        long_window_seconds=3600,
        short_good=20,
        short_bad=10,
        long_good=20,
        long_bad=10,
        violation_id=f"{slo.slo_id}/page-1h/{int(detected_at.timestamp() * 1000)}",
        slo_name=f"{PLUGIN}@{VERSION}",
        scope="version",
    )
    assert tripped.short_window_burn_rate == pytest.approx(expected_burn)
    assert subject == slo.slo_id
    stored = store.state.slos[slo.slo_id]
    assert stored.status.state is SloState.VIOLATED
    assert stored.status.violated_at == detected_at
    # Outcomes keep being counted after the violation.
    assert sum(c.total for c in store.bucket_counts(slo.slo_id).values()) == 80


async def test_concurrent_bursts_emit_once(store: MemoryStore, gauge: MemoryBurnRates) -> None:
    """Twenty failing reports racing each other produce exactly one violation."""
    await create(store, gauge)

    results = await asyncio.gather(*(report(store, gauge, batch(bad=10)) for _ in range(20)))

    assert all(r.violated for r in results)
    assert len(violations(store)) == 1


async def test_too_few_events_never_trip(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Fewer than min_events in the short window never trip, however bad they are."""
    slo = await create(store, gauge)
    first = await report(store, gauge, batch(bad=9))
    clock.advance(minutes=6)  # out of the 5-minute window, still in the hour
    second = await report(store, gauge, batch(bad=1))

    assert first.short_window_burn_rate == pytest.approx(100.0)
    assert second.long_window_burn_rate == pytest.approx(100.0)
    assert not second.violated
    assert violations(store) == []
    assert store.state.slos[slo.slo_id].status.state is SloState.OK


async def test_good_traffic_never_trips(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """Three hours of traffic within the error budget (0.5% bad) never trip."""
    slo = await create(store, gauge)
    for _ in range(180):
        result = await report(store, gauge, batch(good=995, bad=5))
        clock.advance(minutes=1)

    assert violations(store) == []
    assert store.state.slos[slo.slo_id].status.state is SloState.OK
    assert result.long_window_burn_rate == pytest.approx(0.5)


async def test_long_window_holds_back_a_short_outage(
    store: MemoryStore, gauge: MemoryBurnRates, clock: ManualClock
) -> None:
    """After a healthy hour, 5 minutes of total failure burn the short window, not the long."""
    await create(store, gauge)
    for _ in range(55):
        await report(store, gauge, batch(good=1000))
        clock.advance(minutes=1)
    for _ in range(5):
        result = await report(store, gauge, batch(bad=100))
        clock.advance(minutes=1)

    assert result.short_window_burn_rate >= 14.4
    assert result.long_window_burn_rate < 14.4
    assert violations(store) == []


async def test_latency_over_threshold_counts_as_bad(
    store: MemoryStore, gauge: MemoryBurnRates
) -> None:
    """Successes slower than the threshold are bad and trip; successes at it are good."""
    await create(store, gauge, version="1.0.0")
    await create(store, gauge, version="2.0.0")

    at_threshold = await report(store, gauge, batch(good=20, latency_ms=300), version="1.0.0")
    over = await report(store, gauge, batch(good=20, latency_ms=301), version="2.0.0")

    assert (at_threshold.violated, at_threshold.short_window_burn_rate) == (False, 0.0)
    assert over.violated
    assert [e.version for e in violations(store)] == ["2.0.0"]


async def test_latency_is_not_judged_without_threshold(
    store: MemoryStore, gauge: MemoryBurnRates
) -> None:
    """With latency_threshold_ms 0, a success is good however slow it was."""
    await create(store, gauge, latency_threshold_ms=0)

    result = await report(store, gauge, batch(good=20, latency_ms=60_000))

    assert (result.violated, result.short_window_burn_rate) == (False, 0.0)


async def test_report_publishes_burn_rates(store: MemoryStore, gauge: MemoryBurnRates) -> None:
    """The burn rates a report computes go to the gauge."""
    slo = await create(store, gauge, min_events=1000)

    result = await report(store, gauge, batch(good=90, bad=10))

    assert result.short_window_burn_rate == pytest.approx(10.0)
    assert gauge.values[slo.slo_id] == (
        result.short_window_burn_rate,
        result.long_window_burn_rate,
    )


async def test_exactly_the_limit_is_accepted(store: MemoryStore, gauge: MemoryBurnRates) -> None:
    """A report of exactly 10,000 outcomes is counted in full."""
    slo = await create(store, gauge)

    result = await report(store, gauge, batch(good=MAX_OUTCOMES_PER_REPORT))

    assert result.accepted == MAX_OUTCOMES_PER_REPORT
    assert sum(c.good for c in store.bucket_counts(slo.slo_id).values()) == 10_000


async def test_unknown_version_is_not_found(store: MemoryStore, gauge: MemoryBurnRates) -> None:
    """Outcomes for a version without an SLO are refused with NOT_FOUND and stored nowhere."""
    await create(store, gauge)

    with pytest.raises(Exception, match="no SLO for") as raised:
        await report(store, gauge, batch(bad=20), version="9.9.9")

    assert getattr(raised.value, "code", None) == "NOT_FOUND"
    assert store.state.buckets == {}
    assert store.sink.events == []


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("outcomes", [], InvalidOutcomeError),
        ("outcomes", batch(bad=MAX_OUTCOMES_PER_REPORT + 1), InvalidOutcomeError),
        ("outcomes", [*batch(bad=19), ReportedOutcome(False, -1)], InvalidOutcomeError),
        ("tenant_id", "*", InvalidTenantIdError),
        ("tenant_id", "", InvalidTenantIdError),
        ("plugin", "", InvalidSloDefinitionError),
        ("version", "2.3.0 ", InvalidSloDefinitionError),
        ("version", "1.0.0.0.0-", InvalidSloDefinitionError),
        ("plugin", "a b", InvalidSloDefinitionError),
    ],
)
async def test_bad_input_changes_nothing(
    store: MemoryStore,
    gauge: MemoryBurnRates,
    field: str,
    value: object,
    error: type[Exception],
) -> None:
    """Bad input is refused as INVALID_ARGUMENT before any transaction: nothing counted or sent."""
    await create(store, gauge)
    before = store.transactions
    request: dict[str, object] = {
        "tenant_id": TENANT,
        "plugin": PLUGIN,
        "version": VERSION,
        "outcomes": batch(bad=20),
    }
    request[field] = value

    with pytest.raises(error) as raised:
        await handlers.report_outcomes(store.uow_factory(), gauge, **request)  # type: ignore[arg-type]

    assert getattr(raised.value, "code", None) == "INVALID_ARGUMENT"
    assert store.transactions == before
    assert store.state.buckets == {}
    assert store.sink.events == []
