"""The scheduler advances baked phases; slo.violated rolls back through the persisted saga."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portico.events.v1 import events_pb2 as ev
from portico_rollout.app.evaluation import evaluate_due_rollouts
from portico_rollout.domain.saga import StepState
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import RolloutConflictError
from portico_rollout.testing.world import RolloutWorld


async def test_phases_advance_only_after_their_bake(world: RolloutWorld) -> None:
    """Hours of canary pass in a few ticks: each phase moves only once its 10 minutes are up."""
    rollout = await world.started(bake_seconds=600)
    assert await world.tick(seconds=599) == 0
    assert (await world.get(rollout.rollout_id)).percent == 10
    seen = []
    for _ in range(3):
        assert await world.tick(seconds=1) == 1
        seen.append((await world.get(rollout.rollout_id)).percent)
        assert await world.tick(seconds=599) == 0
    assert seen == [25, 50, 100]
    assert await world.tick(seconds=1) == 1
    done = await world.get(rollout.rollout_id)
    assert done.state is RolloutState.COMPLETED
    assert [e.percent for e in world.events(ev.RolloutPhaseAdvanced)] == [25, 50, 100]
    assert len(world.events(ev.RolloutCompleted)) == 1
    assert world.store.state.stable[world.tenant, world.plugin][0] == world.version
    assert await world.tick(hours=24) == 0


async def test_late_scheduler_takes_one_step_at_a_time(world: RolloutWorld) -> None:
    """A scheduler that wakes hours late still walks 25, 50, 100: each phase bakes afresh."""
    rollout = await world.started(bake_seconds=600)
    assert await world.tick(hours=5) == 1
    assert (await world.get(rollout.rollout_id)).percent == 25
    assert await world.tick(seconds=0) == 0


async def test_scheduler_serves_every_tenant(world: RolloutWorld) -> None:
    """One scheduler step advances due rollouts of every tenant."""
    await world.started()
    other = await world.request(tenant="globex")
    await world.verdict("security", True, tenant="globex")
    await world.verdict("compat", True, tenant="globex")
    assert await world.tick(seconds=600) == 2
    assert (await world.get(other.rollout_id, tenant="globex")).percent == 25


async def test_slo_violation_rolls_back_through_the_saga(world: RolloutWorld) -> None:
    """slo.violated puts traffic on stable with its decision; the runner then seeks dependents."""
    rollout = await world.started()
    await world.tick(seconds=600)
    detected = world.clock.now()
    world.clock.advance(seconds=0.04)
    rolled_back = await world.violation(event_id="ce-42", detected_at=detected)
    assert rolled_back is not None
    stored = await world.get(rollout.rollout_id)
    assert stored.state is RolloutState.ROLLED_BACK
    assert stored.percent == 0
    [event] = world.events(ev.RolloutRolledBack)
    assert event.cause_event_id == "ce-42"
    assert event.violation_detected_at.ToDatetime().replace(tzinfo=detected.tzinfo) == detected
    assert event.stable_version == stored.stable_version
    steps = sorted(world.store.state.steps.values(), key=lambda s: s.ordinal)
    assert [(s.step, s.state) for s in steps] == [
        ("traffic_to_stable", StepState.DONE),
        ("find_dependents", StepState.PENDING),
    ]
    assert (await world.run_sagas()).sagas == 1
    steps = sorted(world.store.state.steps.values(), key=lambda s: s.ordinal)
    assert [(s.step, s.state) for s in steps] == [
        ("traffic_to_stable", StepState.DONE),
        ("find_dependents", StepState.DONE),
    ]
    assert steps[1].detail.endswith("in rollback order: none")
    [(_, going, _)] = world.graph.asked
    assert (going.plugin, going.version) == (stored.plugin, stored.version)
    # A rolled-back canary is no longer advanced.
    assert await world.tick(hours=1) == 0


async def test_duplicate_violation_rolls_back_once(world: RolloutWorld) -> None:
    """A violation delivered again (or another one for the same version) changes nothing more."""
    await world.started()
    assert await world.violation(event_id="ce-1") is not None
    steps_after_first = dict(world.store.state.steps)
    world.clock.advance(seconds=5)
    assert await world.violation(event_id="ce-1") is None
    assert await world.violation(event_id="ce-2") is None
    assert len(world.events(ev.RolloutRolledBack)) == 1
    assert world.store.state.steps == steps_after_first


async def test_violation_for_another_version_or_none_is_ignored(world: RolloutWorld) -> None:
    """A violation about a version that is not in canary touches nothing."""
    assert await world.violation() is None
    rollout = await world.started()
    assert await world.violation(version="2.2.0") is None
    assert await world.violation(plugin="@acme/other") is None
    assert (await world.get(rollout.rollout_id)).state is RolloutState.IN_PROGRESS
    assert world.event_types() == ["RolloutRequested", "RolloutStarted"]


async def test_violation_before_the_canary_starts_is_kept_by_refusing_it(
    world: RolloutWorld,
) -> None:
    """A violation while checks are awaited refuses the rollout: passing checks cannot start it."""
    rollout = await world.request()
    world.clock.advance(seconds=1)
    assert await world.violation(event_id="ce-early") is None
    refused = await world.get(rollout.rollout_id)
    assert refused.state is RolloutState.REFUSED
    assert refused.reason.startswith("slo slo-1 violated")
    assert world.event_types() == ["RolloutRequested", "RolloutDecisionRecorded", "RolloutRefused"]
    await world.verdict("security", True)
    await world.verdict("compat", True)
    assert (await world.get(rollout.rollout_id)).state is RolloutState.REFUSED
    async with world.uow(world.tenant) as tx:
        [decision] = await tx.decisions.latest(world.tenant, rollout.rollout_id, 1)
    assert decision.evidence["violation"]["event_id"] == "ce-early"


async def test_violation_detected_before_the_request_is_an_earlier_attempts(
    world: RolloutWorld,
) -> None:
    """A violation detected before the rollout was requested belongs to an earlier attempt."""
    earlier = world.clock.now()
    world.clock.advance(seconds=5)
    rollout = await world.request()
    assert await world.violation(detected_at=earlier) is None
    assert (await world.get(rollout.rollout_id)).state is RolloutState.AWAITING_CHECKS
    assert world.event_types() == ["RolloutRequested"]


async def completed_rollout(world: RolloutWorld) -> str:
    rollout = await world.started(bake_seconds=1)
    for _ in range(4):
        await world.tick(seconds=1)
    assert (await world.get(rollout.rollout_id)).state is RolloutState.COMPLETED
    return rollout.rollout_id


async def test_violation_in_the_post_promotion_window_takes_the_completion_back(
    world: RolloutWorld,
) -> None:
    """A completed rollout stays watched: a violation within the window puts the old stable back."""
    async with world.uow(world.tenant) as tx:
        await tx.stable_versions.set(world.tenant, world.plugin, "2.2.0", "ro-0", world.clock.now())
    rollout_id = await completed_rollout(world)
    assert (await world.resolve("user-1")).version == world.version
    world.clock.advance(seconds=world.defaults.watch_after_completion_seconds - 1)
    # The handler records the request; the scheduler's next pass checks and decides it.
    assert await world.violation(event_id="ce-late") is None
    assert (await world.get(rollout_id)).state is RolloutState.COMPLETED
    assert await world.violation(event_id="ce-again") is None
    assert await world.tick(seconds=0) == 1
    assert (await world.get(rollout_id)).state is RolloutState.ROLLED_BACK
    [event] = world.events(ev.RolloutRolledBack)
    assert (event.after_completion, event.stable_version) == (True, "2.2.0")
    # The first trigger is the cause; the second found the request pending and added nothing.
    assert event.cause_event_id == "ce-late"
    assert event.HasField("violation_detected_at")
    assert (await world.resolve("user-1")).version == "2.2.0"
    # Traffic went back in the decision's transaction; the saga goes on from there.
    first = min(world.store.state.steps.values(), key=lambda s: s.ordinal)
    assert (first.step, first.state) == ("traffic_to_stable", StepState.DONE)


async def test_violation_after_completion_is_harmless(world: RolloutWorld) -> None:
    """Once the post-promotion window is over, a late violation does not roll back history."""
    rollout_id = await completed_rollout(world)
    world.clock.advance(seconds=world.defaults.watch_after_completion_seconds + 1)
    assert await world.violation() is None
    assert (await world.get(rollout_id)).state is RolloutState.COMPLETED


async def test_violation_of_a_replaced_completion_is_harmless(world: RolloutWorld) -> None:
    """Within the window too: once a newer version is stable, the old one is not taken back."""
    rollout_id = await completed_rollout(world)
    async with world.uow(world.tenant) as tx:
        await tx.stable_versions.set(world.tenant, world.plugin, "2.4.0", "ro-9", world.clock.now())
    assert await world.violation() is None
    assert (await world.get(rollout_id)).state is RolloutState.COMPLETED


async def test_stale_save_loses_and_its_events_are_not_committed(world: RolloutWorld) -> None:
    """Two transactions change one rollout: the second save conflicts and publishes nothing."""
    rollout = await world.started()
    world.clock.advance(seconds=600)
    async with world.uow(world.tenant) as first:
        stale = await first.rollouts.get(world.tenant, rollout.rollout_id)
    assert stale is not None
    assert await world.tick() == 1
    events_before = list(world.store.sink.events)

    async def lose_the_race() -> None:
        async with world.uow(world.tenant) as second:
            await second.publish(stale.roll_back("too late", world.clock.now()))
            await second.rollouts.save(stale)

    with pytest.raises(RolloutConflictError) as caught:
        await lose_the_race()
    assert caught.value.code == "ABORTED"
    assert world.store.sink.events == events_before
    assert (await world.get(rollout.rollout_id)).state is RolloutState.IN_PROGRESS


async def test_saga_rerun_does_each_step_once(world: RolloutWorld) -> None:
    """Running the saga again after it finished leaves every step as it was."""
    from portico_rollout.app.saga import run_rollback_saga

    rollout = await world.started()
    await world.violation()
    first = sorted(world.store.state.steps.values(), key=lambda s: s.ordinal)
    world.clock.advance(hours=1)
    async with world.uow(world.tenant) as tx:
        stored = await tx.rollouts.get(world.tenant, rollout.rollout_id)
        assert stored is not None
        again = await run_rollback_saga(tx, stored, world.clock.now())
    assert again == first
    assert all(s.at < world.clock.now() - timedelta(minutes=59) for s in again)


async def test_saga_refuses_a_rollout_that_is_not_rolled_back(world: RolloutWorld) -> None:
    """The saga runs only for a rolled-back rollout, never for a live canary."""
    from portico_rollout.app.saga import run_rollback_saga
    from portico_rollout.errors import RolloutError

    rollout = await world.started()
    async with world.uow(world.tenant) as tx:
        with pytest.raises(RolloutError):
            await run_rollback_saga(tx, rollout, world.clock.now())
    assert world.store.state.steps == {}


async def test_advance_handles_nothing_due(world: RolloutWorld) -> None:
    """With no rollouts at all the scheduler's step is a no-op."""
    done = await evaluate_due_rollouts(world.uow, world.slo, world.clock.now())
    assert (done.due, done.failed) == (0, 0)
