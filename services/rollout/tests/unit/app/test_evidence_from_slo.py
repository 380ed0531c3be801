"""The scheduler judges phases on slo's outcomes of the canary and the stable version.

Each decision is stored with its evidence and emitted as rollout.decision.recorded;
GetRollout's health comes from the latest decision made on evidence.
"""

from __future__ import annotations

import json
from datetime import timedelta

from portico.events.v1 import events_pb2 as ev
from portico_rollout.app import queries
from portico_rollout.domain.decisions import DecisionKind, kinds
from portico_rollout.domain.saga import StepState
from portico_rollout.domain.state import RolloutState
from portico_rollout.testing.world import RolloutWorld

STABLE = "2.2.0"


async def with_stable(world: RolloutWorld) -> None:
    """2.2.0 serves everyone before the rollout of 2.3.0."""
    async with world.uow(world.tenant) as tx:
        await tx.stable_versions.set(world.tenant, world.plugin, STABLE, "ro-0", world.clock.now())


async def decided(world: RolloutWorld, rollout_id: str) -> list[str]:
    found, _ = await queries.list_decisions(world.uow, world.tenant, rollout_id)
    return kinds(found)


async def test_the_canary_and_the_stable_version_are_asked_for_the_same_window(
    world: RolloutWorld,
) -> None:
    """At the bake's end slo is asked for 2.3.0 then 2.2.0 over [phase start, now) in steps."""
    await with_stable(world)
    rollout = await world.started(bake_seconds=600)
    await world.tick(seconds=600)
    [(tenant, plugin, versions, start, end, step)] = world.slo.asked
    assert (tenant, plugin, versions) == (world.tenant, world.plugin, ("2.3.0", STABLE))
    assert (start, end) == (rollout.phase_started_at, world.clock.now())
    assert step == 20  # 600 s in 30 intervals


async def test_the_window_counts_the_second_under_way(world: RolloutWorld) -> None:
    """Judged part-way through a second, the window ends at the next whole second."""
    rollout = await world.started(bake_seconds=1)
    await world.tick(seconds=1.4)
    [(_, _, _, start, end, _)] = world.slo.asked
    assert start == rollout.phase_started_at
    assert end == (world.clock.now() + timedelta(seconds=1)).replace(microsecond=0)
    assert end > world.clock.now()


async def test_a_phase_without_traffic_holds_then_rolls_back(world: RolloutWorld) -> None:
    """No outcomes: a HOLD every recheck, then FAIL and the rollback saga after the timeout."""
    world.healthy_traffic = False
    rollout = await world.started(bake_seconds=600)
    await world.tick(seconds=600)
    held = await world.get(rollout.rollout_id)
    assert (held.state, held.percent) == (RolloutState.IN_PROGRESS, 10)
    assert await decided(world, rollout.rollout_id) == ["hold:criteria"]
    while (await world.get(rollout.rollout_id)).state is RolloutState.IN_PROGRESS:
        await world.tick(seconds=world.defaults.recheck_seconds)
    failed = await world.get(rollout.rollout_id)
    assert failed.state is RolloutState.ROLLED_BACK
    assert failed.reason.startswith("held past 3600s after the bake; not enough samples")
    assert world.clock.now() - rollout.created_at == timedelta(seconds=600 + 3600)
    await world.run_sagas()
    steps = world.store.state.steps.values()
    assert {s.state for s in steps} == {StepState.DONE}
    assert len(world.events(ev.RolloutRolledBack)) == 1
    view = await queries.view_rollout(world.uow, world.tenant, rollout.rollout_id)
    # A hold at the bake's end and at each 30 s recheck, then the failure.
    assert kinds(view.decisions[:2]) == ["fail:criteria", "hold:criteria"]
    assert view.decisions[0].seq == 1 + 3600 // 30
    assert view.health.status == "failing"


async def test_a_failing_canary_rolls_back_on_the_first_judged_evidence(
    world: RolloutWorld,
) -> None:
    """30 errors in 100 outcomes of the canary fail the phase at its bake's end."""
    world.healthy_traffic = False
    rollout = await world.started(bake_seconds=600)
    world.slo.report(
        world.tenant,
        world.plugin,
        world.version,
        world.clock.now(),
        good=70,
        bad=30,
        spread=timedelta(seconds=300),
    )
    await world.tick(seconds=600)
    failed = await world.get(rollout.rollout_id)
    assert failed.state is RolloutState.ROLLED_BACK
    assert failed.reason == "error rate 30.00% above 5.00% (30 of 100)"


async def test_every_decision_is_stored_and_emitted_with_its_evidence(
    world: RolloutWorld,
) -> None:
    """The advance's decision row and its event carry the same evidence and headline figures."""
    await with_stable(world)
    rollout = await world.started(bake_seconds=600)
    await world.tick(seconds=600)
    [stored] = world.store.state.decisions
    [event] = world.events(ev.RolloutDecisionRecorded)
    assert (stored.kind, stored.seq, stored.rollout_id) == (
        DecisionKind.ADVANCE,
        1,
        rollout.rollout_id,
    )
    assert (event.decision_id, event.kind, event.source) == (
        f"{rollout.rollout_id}-d1",
        "advance",
        "criteria",
    )
    assert (event.percent, event.to_percent, event.canary_samples) == (10, 25, 50)
    assert event.canary_error_rate == 0.0
    assert json.loads(event.evidence_json) == json.loads(json.dumps(stored.evidence))
    assert stored.evidence["baseline"]["version"] == STABLE
    event_types = world.event_types()
    # The decision is emitted just before the change it made.
    decision_at = event_types.index("RolloutDecisionRecorded")
    assert event_types[decision_at + 1] == "RolloutPhaseAdvanced"


async def test_get_rollout_reports_health_and_the_latest_decisions(world: RolloutWorld) -> None:
    """Unknown before any judgment, holding on a hold, healthy after an advance; newest first."""
    world.healthy_traffic = False
    rollout = await world.started(bake_seconds=600)
    view = await queries.view_rollout(world.uow, world.tenant, rollout.rollout_id)
    assert (view.health.status, view.decisions) == ("unknown", [])
    await world.tick(seconds=600)
    view = await queries.view_rollout(world.uow, world.tenant, rollout.rollout_id)
    assert view.health.status == "holding"
    assert view.health.summary.startswith("not enough samples: 0 of 20")
    world.healthy_traffic = True
    await world.tick(seconds=world.defaults.recheck_seconds)
    view = await queries.view_rollout(world.uow, world.tenant, rollout.rollout_id)
    assert view.health.status == "healthy"
    assert [d.kind for d in view.decisions] == [DecisionKind.ADVANCE, DecisionKind.HOLD]
    assert view.rollout.percent == 25


async def test_decisions_page_oldest_first(world: RolloutWorld) -> None:
    """ListRolloutDecisions pages with a token until the last page answers none."""
    world.healthy_traffic = False
    rollout = await world.started(bake_seconds=600)
    for _ in range(5):
        await world.tick(seconds=600)
    seen: list[int] = []
    token = ""
    while True:
        page, token = await queries.list_decisions(
            world.uow, world.tenant, rollout.rollout_id, page_size=2, page_token=token
        )
        seen += [d.seq for d in page]
        if not token:
            break
    assert seen == [1, 2, 3, 4, 5]


async def test_after_an_outage_a_phase_short_of_samples_goes_on_once_they_arrive(
    world: RolloutWorld,
) -> None:
    """slo down when the bake ends (the outcome reports refused, the judgment deferred);
    back with no samples yet: HOLD, and one second later, the resent reports in, the phase
    advances, instead of waiting out the 30 s recheck."""
    world.healthy_traffic = False
    rollout = await world.started(bake_seconds=60)
    world.slo.unavailable = True
    pass_ = await world.pass_(seconds=60)
    assert (pass_.due, pass_.failed) == (1, 1)
    world.slo.unavailable = False
    await world.tick(seconds=10)  # the deferral's retry: slo answers, with nothing yet
    assert await decided(world, rollout.rollout_id) == ["hold:criteria"]
    assert world.defaults.recheck_seconds == 30
    # The clients resend what slo refused while it was down.
    world.slo.report(
        world.tenant, world.plugin, "2.3.0", world.clock.now() - timedelta(seconds=30), good=30
    )
    await world.tick(seconds=1)
    advanced = await world.get(rollout.rollout_id)
    assert advanced.percent == 25
    assert await decided(world, rollout.rollout_id) == ["hold:criteria", "advance:criteria"]
