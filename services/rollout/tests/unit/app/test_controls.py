"""Operator controls: pause, resume, promote, abort, retry, listing; each audited once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portico.events.v1 import events_pb2 as ev
from portico.rollout.v1 import rollout_pb2 as pb
from portico_common.authz.access import access_of
from portico_common.authz.policy import default_policy
from portico_common.errors import FailedPreconditionError, NotFoundError
from portico_rollout.app import controls, queries
from portico_rollout.app.controls import Control
from portico_rollout.domain.decisions import kinds
from portico_rollout.domain.state import RolloutState
from portico_rollout.testing.world import RolloutWorld


def control(world: RolloutWorld, rollout_id: str, reason: str = "") -> Control:
    return Control(world.tenant, rollout_id, "ops@acme", reason)


async def audit(world: RolloutWorld, rollout_id: str = "") -> list[tuple[str, str, str]]:
    records, _ = await queries.list_audit(world.uow, world.tenant, rollout_id)
    return [(r.action, r.actor, r.reason) for r in records]


async def test_pause_holds_the_share_past_its_bake(world: RolloutWorld) -> None:
    """A paused canary is never judged, however long; the pause is audited with its reason."""
    rollout = await world.started()
    paused = await controls.pause(world.uow, control(world, rollout.rollout_id, "dashboards red"))
    assert (paused.state, paused.percent) == (RolloutState.PAUSED, 10)
    assert await world.tick(hours=5) == 0
    assert (await world.get(rollout.rollout_id)).percent == 10
    assert await audit(world) == [("pause", "ops@acme", "dashboards red")]


async def test_pausing_twice_changes_and_audits_nothing_more(world: RolloutWorld) -> None:
    """A second pause is a no-op: no new history, no second audit record."""
    rollout = await world.started()
    await controls.pause(world.uow, control(world, rollout.rollout_id))
    before = await world.get(rollout.rollout_id)
    again = await controls.pause(world.uow, control(world, rollout.rollout_id))
    assert again.history == before.history
    assert [a for a, _, _ in await audit(world)] == ["pause"]


async def test_pause_and_resume_are_announced_once_each(world: RolloutWorld) -> None:
    """rollout.paused and rollout.resumed name the operator and the share; a no-op emits none."""
    rollout = await world.started()
    await controls.pause(world.uow, control(world, rollout.rollout_id, "dashboards red"))
    await controls.pause(world.uow, control(world, rollout.rollout_id))
    await controls.resume(world.uow, control(world, rollout.rollout_id, "green again"))
    await controls.resume(world.uow, control(world, rollout.rollout_id))
    [paused] = world.events(ev.RolloutPaused)
    [resumed] = world.events(ev.RolloutResumed)
    assert (paused.rollout_id, paused.percent, paused.phase_index) == (rollout.rollout_id, 10, 0)
    assert (paused.actor, paused.reason) == ("ops@acme", "dashboards red")
    assert (resumed.percent, resumed.actor, resumed.reason) == (10, "ops@acme", "green again")
    assert world.event_types()[-2:] == ["RolloutPaused", "RolloutResumed"]


async def test_resume_bakes_what_was_left_of_the_bake(world: RolloutWorld) -> None:
    """Paused 4 minutes into a 10-minute bake for an hour: it advances 6 minutes after resuming."""
    rollout = await world.started(bake_seconds=600)
    world.clock.advance(minutes=4)
    await controls.pause(world.uow, control(world, rollout.rollout_id))
    world.clock.advance(hours=1)
    resumed = await controls.resume(world.uow, control(world, rollout.rollout_id))
    assert resumed.state is RolloutState.IN_PROGRESS
    assert await world.tick(seconds=359) == 0
    assert await world.tick(seconds=1) == 1
    assert (await world.get(rollout.rollout_id)).percent == 25


async def test_a_violation_still_rolls_back_a_paused_rollout(world: RolloutWorld) -> None:
    """Pause stops the share, not the protection: slo.violated rolls a paused rollout back."""
    rollout = await world.started()
    await controls.pause(world.uow, control(world, rollout.rollout_id))
    assert await world.violation() is not None
    stored = await world.get(rollout.rollout_id)
    assert (stored.state, stored.percent, stored.paused_at) == (RolloutState.ROLLED_BACK, 0, None)


async def test_promote_skips_the_bake_to_the_next_phase(world: RolloutWorld) -> None:
    """Promote at minute 1: 25% at once, decided by the operator, the new phase baking afresh."""
    rollout = await world.started(bake_seconds=600)
    world.clock.advance(minutes=1)
    promoted = await controls.promote(world.uow, control(world, rollout.rollout_id), full=False)
    assert promoted.percent == 25
    found, _ = await queries.list_decisions(world.uow, world.tenant, rollout.rollout_id)
    assert kinds(found) == ["advance:operator"]
    assert found[0].reasons == ("promoted to 25% by ops@acme",)
    assert promoted.due_at() == world.clock.now() + timedelta(seconds=600)


async def test_promote_full_goes_to_100_percent(world: RolloutWorld) -> None:
    """Promote full walks every phase to 100% in one control; the 100% phase still bakes."""
    rollout = await world.started()
    promoted = await controls.promote(world.uow, control(world, rollout.rollout_id), full=True)
    assert (promoted.state, promoted.percent) == (RolloutState.IN_PROGRESS, 100)
    assert [e.percent for e in world.events(ev.RolloutPhaseAdvanced)] == [25, 50, 100]
    assert [a for a, _, _ in await audit(world)] == ["promote_full"]
    done = await controls.promote(world.uow, control(world, rollout.rollout_id), full=True)
    assert done.state is RolloutState.COMPLETED


async def test_a_paused_rollout_can_be_promoted(world: RolloutWorld) -> None:
    """Promoting a paused rollout resumes it on the way."""
    rollout = await world.started()
    await controls.pause(world.uow, control(world, rollout.rollout_id))
    promoted = await controls.promote(world.uow, control(world, rollout.rollout_id), full=False)
    assert (promoted.state, promoted.percent) == (RolloutState.IN_PROGRESS, 25)


async def test_abort_rolls_back_with_an_operator_decision(world: RolloutWorld) -> None:
    """Abort puts everyone back on stable, runs the saga, and records who and why."""
    rollout = await world.started()
    aborted = await controls.abort(world.uow, control(world, rollout.rollout_id, "wrong build"))
    assert (aborted.state, aborted.percent) == (RolloutState.ROLLED_BACK, 0)
    assert aborted.reason == "aborted by ops@acme: wrong build"
    [rolled_back] = world.events(ev.RolloutRolledBack)
    assert rolled_back.reason == aborted.reason
    found, _ = await queries.list_decisions(world.uow, world.tenant, rollout.rollout_id)
    assert kinds(found) == ["rollback:operator"]
    assert found[0].evidence["operator"] == {"actor": "ops@acme", "reason": "wrong build"}
    assert await audit(world) == [("abort", "ops@acme", "wrong build")]


async def test_abort_before_the_start_refuses_the_rollout(world: RolloutWorld) -> None:
    """Aborting a rollout that awaits its checks refuses it; later verdicts change nothing."""
    rollout = await world.request()
    aborted = await controls.abort(world.uow, control(world, rollout.rollout_id))
    assert aborted.state is RolloutState.REFUSED
    await world.verdict("security", True)
    await world.verdict("compat", True)
    assert (await world.get(rollout.rollout_id)).state is RolloutState.REFUSED


async def test_a_finished_rollout_cannot_be_aborted_or_paused(world: RolloutWorld) -> None:
    """Controls on a rolled-back rollout are FAILED_PRECONDITION and leave no audit record."""
    rollout = await world.started()
    await controls.abort(world.uow, control(world, rollout.rollout_id))
    for act in (controls.abort, controls.pause, controls.resume):
        with pytest.raises(FailedPreconditionError):
            await act(world.uow, control(world, rollout.rollout_id))
    assert [a for a, _, _ in await audit(world)] == ["abort"]


async def test_retry_starts_a_failed_rollout_again_as_a_new_attempt(world: RolloutWorld) -> None:
    """Retry of a rolled-back rollout: attempt 2 of the same version and plan, named after it."""
    first = await world.started()
    await controls.abort(world.uow, control(world, first.rollout_id))
    retried = await controls.retry(
        world.uow, world.slo, control(world, first.rollout_id, "fixed config"), world.defaults
    )
    assert retried.rollout_id != first.rollout_id
    assert (retried.attempt, retried.retry_of) == (2, first.rollout_id)
    assert (retried.version, retried.plan) == (first.version, first.plan)
    # The checks passed already: the new attempt starts at once.
    assert (retried.state, retried.percent) == (RolloutState.IN_PROGRESS, 10)
    assert await audit(world, first.rollout_id) == [
        ("abort", "ops@acme", ""),
        ("retry", "ops@acme", "fixed config"),
    ]


async def test_only_a_failed_rollout_can_be_retried(world: RolloutWorld) -> None:
    """Retrying a rollout in progress is FAILED_PRECONDITION; an unknown one NOT_FOUND."""
    rollout = await world.started()
    with pytest.raises(FailedPreconditionError, match="only a failed rollout"):
        await controls.retry(
            world.uow, world.slo, control(world, rollout.rollout_id), world.defaults
        )
    with pytest.raises(NotFoundError):
        await controls.pause(world.uow, control(world, "no-such-rollout"))


async def test_rollouts_list_per_tenant_and_plugin_newest_first(world: RolloutWorld) -> None:
    """ListRollouts filters by plugin and state, pages newest first, shows no other tenant."""
    first = await world.request(plugin="left-pad")
    await controls.abort(world.uow, control(world, first.rollout_id))
    world.clock.advance(seconds=1)
    second = await world.request(plugin="left-pad")
    world.clock.advance(seconds=1)
    other = await world.request(plugin="right-pad")
    await world.request(tenant="globex", plugin="left-pad")
    every, token = await queries.list_rollouts(world.uow, world.tenant)
    assert ([r.rollout_id for r in every], token) == (
        [other.rollout_id, second.rollout_id, first.rollout_id],
        "",
    )
    pads, _ = await queries.list_rollouts(world.uow, world.tenant, plugin="left-pad")
    assert [r.rollout_id for r in pads] == [second.rollout_id, first.rollout_id]
    refused, _ = await queries.list_rollouts(world.uow, world.tenant, states=[RolloutState.REFUSED])
    assert [r.rollout_id for r in refused] == [first.rollout_id]
    page, token = await queries.list_rollouts(world.uow, world.tenant, page_size=2)
    rest, last = await queries.list_rollouts(world.uow, world.tenant, page_token=token)
    assert [r.rollout_id for r in page + rest] == [r.rollout_id for r in every]
    assert last == ""


CONTROLS = (
    "UpdateRollout",
    "PauseRollout",
    "ResumeRollout",
    "PromoteRollout",
    "AbortRollout",
    "RetryRollout",
)


@pytest.mark.parametrize("rpc", CONTROLS)
def test_controls_need_rollouts_control_which_release_managers_hold(rpc: str) -> None:
    """Each control RPC needs rollouts.control: release managers hold it, developers not."""
    method = pb.DESCRIPTOR.services_by_name["RolloutService"].methods_by_name[rpc]
    assert access_of(method).permission == "rollouts.control"
    policy = default_policy()
    assert policy.allows(["release-manager"], "rollouts.control")
    assert not policy.allows(["developer"], "rollouts.control")
    assert not policy.allows(["viewer"], "rollouts.control")


def test_approving_needs_rollouts_approve() -> None:
    """DecideRolloutApproval needs rollouts.approve: release managers hold it, viewers not."""
    method = pb.DESCRIPTOR.services_by_name["RolloutService"].methods_by_name[
        "DecideRolloutApproval"
    ]
    assert access_of(method).permission == "rollouts.approve"
    assert default_policy().allows(["release-manager"], "rollouts.approve")
    assert not default_policy().allows(["viewer"], "rollouts.approve")
