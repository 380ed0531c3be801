"""The rollback safety check: no automatic rollback onto a stable version with a critical flaw."""

from __future__ import annotations

import pytest

from portico.events.v1 import events_pb2 as ev
from portico_rollout.app import controls
from portico_rollout.app.handlers import RolloutSpec
from portico_rollout.domain.decisions import DecisionKind, DecisionSource
from portico_rollout.domain.saga import StepState
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import InvalidTransitionError
from portico_rollout.testing.world import PLUGIN, TENANT, RolloutWorld

STABLE = "2.2.0"
A, B = "@acme/plugin-a", "@acme/plugin-b"


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


async def completed_over(world: RolloutWorld, plugin: str = PLUGIN) -> str:
    """2.3.0 completed over 2.2.0 (one phase, baked): 2.2.0 is what a rollback restores."""
    async with world.uow(TENANT) as tx:
        await tx.stable_versions.set(TENANT, plugin, STABLE, f"ro-{plugin}", world.clock.now())
    rollout = await world.request(plugin=plugin, phases=(100,))
    await world.verdict("security", True, plugin=plugin)
    await world.verdict("compat", True, plugin=plugin)
    await world.tick(seconds=600)
    assert (await world.get(rollout.rollout_id)).state is RolloutState.COMPLETED
    return rollout.rollout_id


async def test_a_watched_completion_over_a_flawed_stable_is_held_until_an_abort(
    world: RolloutWorld,
) -> None:
    """An advisory published after completion: the window's violation holds and asks instead."""
    rollout_id = await completed_over(world)
    world.advisories.declare(TENANT, PLUGIN, STABLE, "GHSA-crit-0003")
    assert await world.violation(event_id="ce-1") is None
    await world.tick(seconds=1)
    held = await world.get(rollout_id)
    assert held.state is RolloutState.COMPLETED
    assert held.rollback_held
    assert held.stable_advisories == ("GHSA-crit-0003",)
    assert world.events(ev.RolloutRolledBack) == []
    async with world.uow(TENANT) as tx:
        [decision] = await tx.decisions.latest(TENANT, rollout_id, 1)
        assert await tx.stable_versions.get(TENANT, PLUGIN) == world.version
    assert decision.kind is DecisionKind.HOLD
    assert decision.evidence["violation"]["event_id"] == "ce-1"
    assert "abort the rollout to roll back anyway" in decision.reasons[1]
    # Asked once: another violation in the window records nothing more.
    events = list(world.store.sink.events)
    assert await world.violation(event_id="ce-2") is None
    assert await world.tick(seconds=1) == 0
    assert world.store.sink.events == events
    # The operator's abort is the approval: the flawed stable serves again, on purpose.
    aborted = await controls.abort(
        world.uow, controls.Control(TENANT, rollout_id, "alice", "2.3.0 is worse")
    )
    assert aborted.state is RolloutState.ROLLED_BACK
    [rolled_back] = world.events(ev.RolloutRolledBack)
    assert (rolled_back.after_completion, rolled_back.stable_version) == (True, STABLE)
    async with world.uow(TENANT) as tx:
        assert await tx.stable_versions.get(TENANT, PLUGIN) == STABLE


async def test_a_completion_without_a_held_rollback_cannot_be_aborted(
    world: RolloutWorld,
) -> None:
    rollout_id = await completed_over(world)
    with pytest.raises(InvalidTransitionError):
        await controls.abort(world.uow, controls.Control(TENANT, rollout_id, "alice", "no"))
    assert (await world.get(rollout_id)).state is RolloutState.COMPLETED


async def test_a_completed_dependent_over_a_flawed_stable_is_held(world: RolloutWorld) -> None:
    """B 2.3.0 completed and needs A 2.0.0; A goes back, B's own stable is flawed: B is held."""
    b = await completed_over(world, plugin=B)
    async with world.uow(TENANT) as tx:
        await tx.stable_versions.set(TENANT, A, "1.0.0", "ro-a", world.clock.now())
    a = await world.started(plugin=A, version="2.0.0")
    world.graph.needs(B, world.version, on=A, on_version="2.0.0", depth=1)
    world.advisories.declare(TENANT, B, STABLE, "GHSA-crit-0004")
    assert await world.violation(plugin=A, version="2.0.0") is not None
    await world.run_sagas()
    assert [e.rollout_id for e in world.events(ev.RolloutRolledBack)] == [a.rollout_id]
    held = await world.get(b)
    assert (held.state, held.rollback_held) == (RolloutState.COMPLETED, True)
    step = world.store.state.steps[a.rollout_id, f"dependent:{B}@{world.version}"]
    assert step.state is StepState.DONE
    assert "is held (critical advisories GHSA-crit-0004)" in step.detail
    async with world.uow(TENANT) as tx:
        [decision] = await tx.decisions.latest(TENANT, b, 1)
    assert (decision.kind, decision.source) == (DecisionKind.HOLD, DecisionSource.DEPENDENCY)


async def test_a_serving_dependent_is_checked_on_fresh_advisories(world: RolloutWorld) -> None:
    """B's canary started over a clean stable; an advisory since then is read by the saga."""
    for plugin in (A, B):
        async with world.uow(TENANT) as tx:
            await tx.stable_versions.set(TENANT, plugin, "1.0.0", f"ro-{plugin}", world.clock.now())
    a = await world.started(plugin=A, version="2.0.0")
    b = await world.started(plugin=B, version="2.0.0")
    assert b.stable_advisories == ()
    world.graph.needs(B, "2.0.0", on=A, on_version="2.0.0", depth=1)
    world.advisories.declare(TENANT, B, "1.0.0", "GHSA-crit-0005")
    await world.violation(plugin=A, version="2.0.0")
    await world.run_sagas()
    held = await world.get(b.rollout_id)
    assert (held.state, held.percent, held.rollback_held) == (RolloutState.PAUSED, 10, True)
    assert [e.rollout_id for e in world.events(ev.RolloutRolledBack)] == [a.rollout_id]


async def test_each_step_of_a_gradual_rollback_checks_again(world: RolloutWorld) -> None:
    """50% -> 25%, then an advisory on the stable: the next step holds at 25% and asks."""
    async with world.uow(TENANT) as tx:
        await tx.stable_versions.set(TENANT, PLUGIN, STABLE, "ro-0", world.clock.now())
    rollout = await world.request(
        spec=RolloutSpec(phases=(10, 25, 50, 100), bake_seconds=600, rollback_step_seconds=60)
    )
    await world.verdict("security", True)
    await world.verdict("compat", True)
    await world.tick(seconds=600)
    await world.tick(seconds=600)
    await world.violation()
    assert (await world.get(rollout.rollout_id)).percent == 25
    world.advisories.declare(TENANT, PLUGIN, STABLE, "GHSA-crit-0006")
    world.healthy_traffic = False
    await world.tick(seconds=60)
    held = await world.get(rollout.rollout_id)
    assert (held.state, held.percent, held.rollback_held) == (RolloutState.PAUSED, 25, True)
    assert held.rolling_back is None
    assert (await world.resolve("user-1")).percent == 25
    # Paused: the scheduler leaves it; the abort (the approval) goes back at once.
    assert await world.tick(seconds=600) == 0
    aborted = await controls.abort(
        world.uow, controls.Control(TENANT, rollout.rollout_id, "alice", "accept")
    )
    assert (aborted.state, aborted.percent) == (RolloutState.ROLLED_BACK, 0)
