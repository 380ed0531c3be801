"""The demo's event feed: tenant filtering, decoding, descriptions and reaction times."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from portico.events.v1 import events_pb2 as ev
from portico_cli.demo import reaction_of
from portico_cli.events import EventFeed, Seen, describe
from portico_common.events.envelope import Envelope
from portico_common.timestamps import timestamp_field, to_timestamp

TENANT = "demo-abc123"


def wire(
    payload: object, tenant: str = TENANT, time: datetime | None = None
) -> tuple[dict[str, str], bytes]:
    envelope = Envelope.of(payload, source="portico/test", tenant_id=tenant, time=time)  # type: ignore[arg-type]
    return envelope.headers(), envelope.body()


def feed() -> tuple[EventFeed, list[Seen], list[str]]:
    seen: list[Seen] = []
    problems: list[str] = []
    return EventFeed(TENANT, seen.append, problems.append), seen, problems


def test_only_the_demo_tenants_events_are_kept() -> None:
    """Other tenants' events and messages without the tenant header are dropped."""
    events, seen, _ = feed()
    events.accept(*wire(ev.RolloutCompleted(plugin="p", version="1"), tenant="other"))
    events.accept(None, b"")
    kept = events.accept(*wire(ev.RolloutCompleted(tenant_id=TENANT, plugin="p", version="1")))
    assert kept is not None
    assert [s.type for s in seen] == ["rollout.completed"]
    assert events.events == seen


def test_an_undecodable_event_is_reported_not_raised() -> None:
    """A broken payload of our tenant becomes a warning line."""
    events, seen, problems = feed()
    headers, _ = wire(ev.RolloutCompleted(tenant_id=TENANT))
    events.accept(headers, b"\xff\xff\xff")
    assert seen == []
    assert problems
    assert "rollout.completed" in problems[0]


def test_find_matches_payload_fields() -> None:
    """find() picks the event of a rollout among several of the same type."""
    events, _, _ = feed()
    events.accept(*wire(ev.RolloutRolledBack(tenant_id=TENANT, rollout_id="r-1")))
    events.accept(*wire(ev.RolloutRolledBack(tenant_id=TENANT, rollout_id="r-2")))
    found = events.find("rollout.rolled_back", rollout_id="r-2")
    assert found is not None
    assert found.payload.rollout_id == "r-2"
    assert events.find("rollout.rolled_back", rollout_id="r-3") is None


async def test_wait_for_returns_an_event_arriving_later() -> None:
    """wait_for wakes up when the awaited event arrives, and gives up after its time."""
    events, _, _ = feed()

    async def later() -> None:
        await asyncio.sleep(0.05)
        events.accept(*wire(ev.SloViolated(tenant_id=TENANT, version="2.4.0")))

    task = asyncio.create_task(later())
    found = await events.wait_for("slo.violated", 2.0, version="2.4.0")
    await task
    assert found is not None
    assert await events.wait_for("rollout.completed", 0.05) is None


def test_descriptions_show_what_matters() -> None:
    """The timeline shows the percent first for phase changes, and the rollback target."""
    assert describe(ev.RolloutPhaseAdvanced(plugin="@a/p", version="2.3.0", percent=25)).startswith(
        "25%"
    )
    assert "-> 2.3.0" in describe(
        ev.RolloutRolledBack(plugin="@a/p", version="2.4.0", stable_version="2.3.0", reason="slo")
    )
    assert "50.0x short" in describe(ev.SloViolated(short_window_burn_rate=50, threshold=14.4))
    incompatible = ev.CompatChecked(
        plugin="@a/p",
        version="1",
        compatible=False,
        findings=[ev.CompatFinding(name="node", satisfied=False, reason="needs >=22")],
    )
    assert "INCOMPATIBLE: node needs >=22" in describe(incompatible)
    opened = ev.BreakerOpened(
        change=ev.BreakerChange(plugin="@a/p", version="2.5.0", summary="CLOSED -> OPEN: slow")
    )
    assert describe(opened) == "@a/p@2.5.0 breaker CLOSED -> OPEN: slow"
    held = ev.RolloutDecisionRecorded(
        kind="hold",
        source="criteria",
        percent=10,
        canary_samples=7,
        reasons=["not enough samples: 7 of 20 canary outcomes"],
    )
    assert describe(held) == (
        "hold at 10% (criteria, 7 samples): not enough samples: 7 of 20 canary outcomes"
    )


def test_reaction_time_comes_from_the_events() -> None:
    """Server-side: ce-time of rolled_back minus violationDetectedAt; client-side: arrival gap."""
    detected = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    stamp = to_timestamp(detected)
    rolled_back_at = detected + timedelta(milliseconds=17)
    violated = Seen(
        Envelope.of(ev.SloViolated(tenant_id=TENANT), source="s", tenant_id=TENANT), arrived=100.000
    )
    rolled_back = Seen(
        Envelope.of(
            ev.RolloutRolledBack(tenant_id=TENANT, violation_detected_at=stamp),
            source="r",
            tenant_id=TENANT,
            time=rolled_back_at,
        ),
        arrived=100.020,
    )
    reaction = reaction_of(violated, rolled_back)
    assert reaction.server_ms is not None
    assert abs(reaction.server_ms - 17.0) < 0.01
    assert reaction.arrival_ms is not None
    assert abs(reaction.arrival_ms - 20.0) < 0.01
    assert timestamp_field(rolled_back.payload, "violation_detected_at") == detected


def test_reaction_time_is_unknown_without_the_events() -> None:
    """No events (no NATS) means n/a rather than a made-up figure."""
    reaction = reaction_of(None, None)
    assert reaction.server_ms is None
    assert reaction.arrival_ms is None
