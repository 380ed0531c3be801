"""The event entrypoints: CloudEvents mapped onto the use cases, tenant header checked."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_common.errors import InvalidArgumentError
from portico_common.events.envelope import Envelope
from portico_common.metrics import ROLLOUT_REACTION
from portico_common.timestamps import timestamp_field
from portico_rollout.domain.state import RolloutState
from portico_rollout.testing.world import RolloutWorld


class Entrypoints:
    """The service's event handlers (from `build`), and what their deliveries committed."""

    def __init__(self, world: RolloutWorld) -> None:
        self.world = world
        self.published: list[Message] = []

    async def deliver(self, payload: Message, tenant: str = "acme") -> Envelope:
        before = len(self.world.store.events)
        envelope = await self.world.deliver(payload, tenant=tenant)
        self.published += self.world.store.events[before:]
        return envelope


@pytest.fixture
def entry(world: RolloutWorld) -> Entrypoints:
    return Entrypoints(world)


def ids(world: RolloutWorld) -> dict[str, Any]:
    return {"tenant_id": world.tenant, "plugin": world.plugin, "version": world.version}


def reactions() -> float:
    return next(
        s.value for m in ROLLOUT_REACTION.collect() for s in m.samples if s.name.endswith("_count")
    )


async def test_verified_and_compatible_start_the_rollout(
    world: RolloutWorld, entry: Entrypoints
) -> None:
    """ArtifactVerified and a compatible CompatChecked count as passes and start the canary."""
    rollout = await world.request()
    await entry.deliver(ev.ArtifactVerified(**ids(world)))
    await entry.deliver(ev.CompatChecked(**ids(world), compatible=True))
    assert (await world.get(rollout.rollout_id)).state is RolloutState.IN_PROGRESS
    assert [type(e).__name__ for e in entry.published] == ["RolloutStarted"]


async def test_compat_findings_become_the_reasons(world: RolloutWorld, entry: Entrypoints) -> None:
    """Unsatisfied compat findings are the refusal's reasons; satisfied ones are left out."""
    rollout = await world.request()
    findings = [
        ev.CompatFinding(dimension="engine", name="node", satisfied=True),
        ev.CompatFinding(
            dimension="package", name="@backstage/core", required_range="^1.30.0", satisfied=False
        ),
        ev.CompatFinding(dimension="engine", name="backstage", reason="too old", satisfied=False),
    ]
    await entry.deliver(ev.CompatChecked(**ids(world), compatible=False, findings=findings))
    stored = await world.get(rollout.rollout_id)
    assert stored.state is RolloutState.REFUSED
    assert stored.reason == (
        "compat: package @backstage/core: needs ^1.30.0; compat: engine backstage: too old"
    )


async def test_rejection_without_reasons_still_explains(
    world: RolloutWorld, entry: Entrypoints
) -> None:
    """An ArtifactRejected with no reasons refuses with a generic one rather than none."""
    rollout = await world.request()
    await entry.deliver(ev.ArtifactRejected(**ids(world)))
    assert (await world.get(rollout.rollout_id)).reason == "security: artifact rejected"


async def test_violation_rolls_back_and_measures_reaction(
    world: RolloutWorld, entry: Entrypoints
) -> None:
    """slo.violated rolls back with its ce-id as cause and records one reaction-time sample."""
    await world.started()
    detected = world.clock.now()
    violation = ev.SloViolated(**ids(world), slo_id="s", rule="fast burn")
    violation.detected_at.FromDatetime(detected)
    world.clock.advance(seconds=0.02)
    before = reactions()
    envelope = await entry.deliver(violation)
    decided, rolled_back = entry.published
    assert isinstance(decided, ev.RolloutDecisionRecorded)
    assert (decided.kind, decided.source) == ("rollback", "slo")
    assert isinstance(rolled_back, ev.RolloutRolledBack)
    assert rolled_back.cause_event_id == envelope.id
    assert timestamp_field(rolled_back, "violation_detected_at") == detected
    assert reactions() == before + 1


async def test_violation_without_detection_time_uses_the_event_time(
    world: RolloutWorld, entry: Entrypoints
) -> None:
    """A violation missing detected_at falls back to its CloudEvent time."""
    await world.started()
    world.clock.advance(minutes=1)
    envelope = await entry.deliver(ev.SloViolated(**ids(world), rule="r"))
    _, rolled_back = entry.published
    assert isinstance(rolled_back, ev.RolloutRolledBack)
    assert timestamp_field(rolled_back, "violation_detected_at") == envelope.time
    assert envelope.time == world.clock.now()


async def test_ignored_violation_records_no_reaction(
    world: RolloutWorld, entry: Entrypoints
) -> None:
    """A violation that rolls nothing back adds no reaction-time sample."""
    before = reactions()
    await entry.deliver(ev.SloViolated(**ids(world), rule="r"))
    assert reactions() == before
    assert entry.published == []


@pytest.mark.parametrize(
    ("payload_tenant", "header_tenant"), [("globex", "acme"), ("acme", "*"), ("", "*")]
)
async def test_tenant_header_must_be_a_tenant_and_match(
    world: RolloutWorld, entry: Entrypoints, payload_tenant: str, header_tenant: str
) -> None:
    """A payload for another tenant, or the platform scope "*" as tenant, is refused untouched."""
    payload = ev.ArtifactVerified(tenant_id=payload_tenant, plugin=world.plugin, version="1.0.0")
    with pytest.raises(InvalidArgumentError, match="tenant"):
        await entry.deliver(payload, tenant=header_tenant)
    assert world.store.state.verdicts == []


def breaker_opened(world: RolloutWorld, at: datetime | None = None) -> ev.BreakerOpened:
    change = ev.BreakerChange(
        breaker_id="b-7",
        plugin=world.plugin,
        version=world.version,
        from_state="CLOSED",
        to_state="OPEN",
        reason="failure_rate",
        summary="CLOSED -> OPEN: failure rate 60% >= 50% over 5 calls",
    )
    if at is not None:
        change.at.FromDatetime(at)
    return ev.BreakerOpened(tenant_id=world.tenant, change=change)


async def test_breaker_opening_rolls_back_with_the_breaker_as_reason(
    world: RolloutWorld, entry: Entrypoints
) -> None:
    """slo.breaker.opened rolls the canary back like a violation, naming the breaker and why."""
    rollout = await world.started()
    opened_at = world.clock.now()
    world.clock.advance(seconds=0.01)
    before = reactions()
    envelope = await entry.deliver(breaker_opened(world, opened_at))
    reason = "circuit breaker b-7 opened: CLOSED -> OPEN: failure rate 60% >= 50% over 5 calls"
    decided, rolled_back = entry.published
    assert isinstance(decided, ev.RolloutDecisionRecorded)
    assert (decided.kind, decided.source) == ("rollback", "slo")
    assert list(decided.reasons) == [reason]
    assert json.loads(decided.evidence_json)["violation"]["breaker_id"] == "b-7"
    assert isinstance(rolled_back, ev.RolloutRolledBack)
    assert rolled_back.reason == reason
    assert rolled_back.cause_event_id == envelope.id
    assert timestamp_field(rolled_back, "violation_detected_at") == opened_at
    assert (await world.get(rollout.rollout_id)).state is RolloutState.ROLLED_BACK
    assert reactions() == before + 1


async def test_breaker_opening_for_another_version_changes_nothing(
    world: RolloutWorld, entry: Entrypoints
) -> None:
    """A breaker of a version no canary serves is ignored (late, or another version's)."""
    rollout = await world.started()
    event = breaker_opened(world)
    event.change.version = "9.9.9"
    envelope = await entry.deliver(event)
    assert entry.published == []
    assert envelope.time == world.clock.now()
    assert (await world.get(rollout.rollout_id)).state is RolloutState.IN_PROGRESS
