"""ReplayRollout: a finished rollout's decisions judged again from their stored evidence."""

from __future__ import annotations

import copy
from datetime import timedelta

from portico_rollout.app.replay import replay_rollout
from portico_rollout.domain.criteria import Criteria
from portico_rollout.domain.decisions import DecisionKind
from portico_rollout.domain.judge.config import JudgmentConfig, MetricConfig
from portico_rollout.domain.state import RolloutState
from portico_rollout.testing.world import RolloutWorld


async def completed_with_some_errors(world: RolloutWorld) -> str:
    """A canary that completed with 2% errors in every phase (under the 5% default)."""
    world.healthy_traffic = False
    rollout = await world.started(bake_seconds=600)
    for _ in range(4):
        current = await world.get(rollout.rollout_id)
        assert current.phase_started_at is not None
        world.slo.report(
            world.tenant,
            world.plugin,
            world.version,
            current.phase_started_at,
            good=98,
            bad=2,
            spread=timedelta(seconds=500),
        )
        await world.tick(seconds=600)
    assert (await world.get(rollout.rollout_id)).state is RolloutState.COMPLETED
    return rollout.rollout_id


async def test_the_same_criteria_replay_the_same_decisions(world: RolloutWorld) -> None:
    """Replayed under its own criteria every decision is what it was: none differs."""
    rollout_id = await completed_with_some_errors(world)
    result = await replay_rollout(world.uow, world.tenant, rollout_id)
    assert [r.kind for r in result.decisions] == [DecisionKind.ADVANCE] * 4
    assert (result.differing, result.outcome) == (0, "advanced")


async def test_stricter_thresholds_would_have_failed_the_first_phase(
    world: RolloutWorld,
) -> None:
    """At most 1% errors: the first phase's evidence fails; the summary says where and why."""
    rollout_id = await completed_with_some_errors(world)
    result = await replay_rollout(
        world.uow, world.tenant, rollout_id, criteria=Criteria(max_error_rate=0.01)
    )
    assert [r.kind for r in result.decisions] == [DecisionKind.FAIL] * 4
    assert (result.differing, result.outcome) == (4, "failed")
    assert result.summary.startswith("would have failed in phase 0 (10%)")
    assert "error rate 2.00% above 1.00% (2 of 100)" in result.summary


async def test_one_phase_can_be_judged_under_its_own_criteria(world: RolloutWorld) -> None:
    """phase_criteria replaces only the named phase's criteria."""
    rollout_id = await completed_with_some_errors(world)
    result = await replay_rollout(
        world.uow,
        world.tenant,
        rollout_id,
        phase_criteria={2: Criteria(min_samples=1000)},
    )
    assert [r.kind for r in result.decisions] == [
        DecisionKind.ADVANCE,
        DecisionKind.ADVANCE,
        DecisionKind.HOLD,
        DecisionKind.ADVANCE,
    ]
    assert result.differing == 1


async def test_a_replay_is_deterministic_and_changes_nothing(world: RolloutWorld) -> None:
    """Twice the same answer, judgment included; no row, decision or event is added."""
    rollout_id = await completed_with_some_errors(world)
    state_before = copy.deepcopy(world.store.state)
    events_before = list(world.store.events)
    judged = Criteria(judgment=JudgmentConfig(metrics=(MetricConfig("error_rate"),)))
    first = await replay_rollout(world.uow, world.tenant, rollout_id, criteria=judged)
    second = await replay_rollout(world.uow, world.tenant, rollout_id, criteria=judged)
    assert first == second
    assert world.store.state == state_before
    assert world.store.events == events_before


async def test_a_shorter_hold_timeout_turns_a_long_hold_into_a_failure(
    world: RolloutWorld,
) -> None:
    """Holds that waited 30 minutes for samples would have failed under a 10-minute timeout."""
    world.healthy_traffic = False
    rollout = await world.started(bake_seconds=600)
    for _ in range(60):
        await world.tick(seconds=30)
    world.healthy_traffic = True
    await world.tick(seconds=30)
    result = await replay_rollout(
        world.uow, world.tenant, rollout.rollout_id, hold_timeout_seconds=600
    )
    kinds = [r.kind for r in result.decisions]
    assert kinds[0] is DecisionKind.HOLD
    assert DecisionKind.FAIL in kinds
    assert result.outcome == "failed"
    assert "held past the hold timeout" in result.summary


async def test_decisions_not_made_on_evidence_are_left_out(world: RolloutWorld) -> None:
    """A rollback by a violation is not replayed: there is no evidence to judge again."""
    rollout = await world.started()
    await world.violation()
    result = await replay_rollout(world.uow, world.tenant, rollout.rollout_id)
    assert result.decisions == ()
    assert result.summary == "no decision was made on evidence: nothing to replay"
