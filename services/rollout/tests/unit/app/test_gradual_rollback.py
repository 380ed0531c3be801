"""Gradual rollback by policy: the share steps down through the phases already passed."""

from __future__ import annotations

from portico.events.v1 import events_pb2 as ev
from portico_rollout.app import controls
from portico_rollout.app.handlers import RolloutSpec
from portico_rollout.domain.decisions import DecisionKind
from portico_rollout.domain.saga import StepState
from portico_rollout.domain.state import RolloutState
from portico_rollout.testing.world import TENANT, RolloutWorld

STEP = 60


async def at_fifty(world: RolloutWorld) -> str:
    """A canary 10 -> 25 -> 50 -> 100 with a 60 s gradual rollback, now at 50%."""
    rollout = await world.request(
        spec=RolloutSpec(phases=(10, 25, 50, 100), bake_seconds=600, rollback_step_seconds=STEP)
    )
    await world.verdict("security", True)
    await world.verdict("compat", True)
    await world.tick(seconds=600)
    await world.tick(seconds=600)
    assert (await world.get(rollout.rollout_id)).percent == 50
    return rollout.rollout_id


async def test_a_violation_steps_the_share_down_then_rolls_back(world: RolloutWorld) -> None:
    """50% -> 25% at once with the decision, 10% after a step, then 0% and the saga."""
    rollout_id = await at_fifty(world)
    world.healthy_traffic = False
    assert await world.violation() is None
    stepping = await world.get(rollout_id)
    assert (stepping.state, stepping.percent) == (RolloutState.ROLLING_BACK, 25)
    assert (await world.resolve("user-1")).percent == 25
    assert await world.tick(seconds=STEP - 1) == 0
    assert await world.tick(seconds=1) == 1
    assert (await world.get(rollout_id)).percent == 10
    await world.tick(seconds=STEP)
    done = await world.get(rollout_id)
    assert (done.state, done.percent) == (RolloutState.ROLLED_BACK, 0)
    async with world.uow(TENANT) as tx:
        decisions = await tx.decisions.for_rollout(TENANT, rollout_id)
    steps = [
        (d.kind, d.percent, d.to_percent) for d in decisions if d.kind is DecisionKind.ROLLBACK
    ]
    assert steps == [
        (DecisionKind.ROLLBACK, 50, 25),
        (DecisionKind.ROLLBACK, 25, 10),
        (DecisionKind.ROLLBACK, 10, 0),
    ]
    assert len(world.events(ev.RolloutRolledBack)) == 1
    first = min(world.store.state.steps.values(), key=lambda s: s.ordinal)
    assert (first.step, first.state) == ("traffic_to_stable", StepState.DONE)


async def test_a_second_trigger_or_an_abort_goes_back_at_once(world: RolloutWorld) -> None:
    """While stepping down, another violation rolls back at once; so does an operator's abort."""
    rollout_id = await at_fifty(world)
    await world.violation(event_id="ce-1")
    rolled_back = await world.violation(event_id="ce-2")
    assert rolled_back is not None
    assert (await world.get(rollout_id)).state is RolloutState.ROLLED_BACK

    other = await world.request(
        plugin="@acme/other",
        spec=RolloutSpec(phases=(10, 50, 100), bake_seconds=600, rollback_step_seconds=STEP),
    )
    await world.verdict("security", True, plugin="@acme/other")
    await world.verdict("compat", True, plugin="@acme/other")
    await world.tick(seconds=600)
    aborted = await controls.abort(
        world.uow, controls.Control(TENANT, other.rollout_id, "alice", "now")
    )
    assert (aborted.state, aborted.percent) == (RolloutState.ROLLED_BACK, 0)


async def test_immediate_is_the_default_policy(world: RolloutWorld) -> None:
    """Without a step policy a violation puts everyone on the stable version at once."""
    rollout = await world.started()
    await world.tick(seconds=600)
    assert await world.violation() is not None
    assert (await world.get(rollout.rollout_id)).percent == 0
