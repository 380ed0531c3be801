"""The rollback safety check: no automatic rollback onto a stable version with a critical flaw."""

from __future__ import annotations

from portico.events.v1 import events_pb2 as ev
from portico_rollout.app import controls
from portico_rollout.domain.decisions import DecisionKind
from portico_rollout.domain.state import RolloutState
from portico_rollout.testing.world import PLUGIN, TENANT, RolloutWorld

STABLE = "2.2.0"


async def over_a_flawed_stable(world: RolloutWorld) -> str:
    """A canary of 2.3.0 over 2.2.0, which security lists a critical advisory against."""
    async with world.uow(TENANT) as tx:
        await tx.stable_versions.set(TENANT, PLUGIN, STABLE, "ro-0", world.clock.now())
    world.advisories.declare(TENANT, PLUGIN, STABLE, "GHSA-crit-0001")
    rollout = await world.started()
    assert rollout.stable_advisories == ("GHSA-crit-0001",)
    return rollout.rollout_id


async def test_a_violation_pauses_and_asks_instead_of_rolling_back(world: RolloutWorld) -> None:
    """slo.violated over a flawed stable: a HOLD decision, paused, users keep their share."""
    rollout_id = await over_a_flawed_stable(world)
    assert await world.violation(event_id="ce-1") is None
    held = await world.get(rollout_id)
    assert (held.state, held.percent) == (RolloutState.PAUSED, 10)
    assert held.rollback_held
    assert world.events(ev.RolloutRolledBack) == []
    [paused] = world.events(ev.RolloutPaused)
    assert paused.actor == "rollout"
    assert "held: critical advisories GHSA-crit-0001" in paused.reason
    async with world.uow(TENANT) as tx:
        [decision] = await tx.decisions.latest(TENANT, rollout_id, 1)
    assert decision.kind is DecisionKind.HOLD
    assert decision.evidence["stable_advisories"] == ["GHSA-crit-0001"]
    assert decision.evidence["violation"]["event_id"] == "ce-1"
    # Asked once: another violation while it waits changes nothing.
    events = list(world.store.sink.events)
    assert await world.violation(event_id="ce-2") is None
    assert world.store.sink.events == events


async def test_an_operators_abort_is_the_approval(world: RolloutWorld) -> None:
    """An operator aborting the held rollout rolls it back onto the flawed stable on purpose."""
    rollout_id = await over_a_flawed_stable(world)
    await world.violation()
    aborted = await controls.abort(
        world.uow, controls.Control(TENANT, rollout_id, "alice", "rollback accepted")
    )
    assert (aborted.state, aborted.percent) == (RolloutState.ROLLED_BACK, 0)
    [rolled_back] = world.events(ev.RolloutRolledBack)
    assert rolled_back.stable_version == STABLE


async def test_the_scheduler_learns_of_an_advisory_and_a_failure_is_held(
    world: RolloutWorld,
) -> None:
    """An advisory published after the start is read by the scheduler; a failed phase then holds."""
    async with world.uow(TENANT) as tx:
        await tx.stable_versions.set(TENANT, PLUGIN, STABLE, "ro-0", world.clock.now())
    world.healthy_traffic = False
    rollout = await world.started()
    assert rollout.stable_advisories == ()
    world.advisories.declare(TENANT, PLUGIN, STABLE, "GHSA-crit-0002")
    while (await world.get(rollout.rollout_id)).state is RolloutState.IN_PROGRESS:
        await world.tick(seconds=world.defaults.recheck_seconds)
    held = await world.get(rollout.rollout_id)
    assert held.state is RolloutState.PAUSED
    assert held.stable_advisories == ("GHSA-crit-0002",)
    assert held.rollback_held
    async with world.uow(TENANT) as tx:
        [decision] = await tx.decisions.latest(TENANT, rollout.rollout_id, 1)
    assert decision.kind is DecisionKind.HOLD
    assert decision.reasons[0].startswith("held past 3600s after the bake")
    assert world.events(ev.RolloutRolledBack) == []


async def test_a_clean_stable_is_rolled_back_onto_at_once(world: RolloutWorld) -> None:
    """With no critical advisory on the stable version, the violation rolls back as always."""
    async with world.uow(TENANT) as tx:
        await tx.stable_versions.set(TENANT, PLUGIN, STABLE, "ro-0", world.clock.now())
    rollout = await world.started()
    assert await world.violation() is not None
    assert (await world.get(rollout.rollout_id)).state is RolloutState.ROLLED_BACK
    assert (TENANT, PLUGIN, STABLE) in world.advisories.asked
