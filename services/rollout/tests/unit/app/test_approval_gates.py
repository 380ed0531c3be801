"""Approval gates per phase: N of M approvers by role, with a deadline decided on the Clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portico.events.v1 import events_pb2 as ev
from portico_common.approvals import DeadlineAction, Step
from portico_common.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    PermissionDeniedError,
)
from portico_rollout.app import controls, queries
from portico_rollout.app.controls import Control, GateVote
from portico_rollout.app.handlers import RolloutSpec
from portico_rollout.domain.criteria import Criteria
from portico_rollout.domain.decisions import kinds
from portico_rollout.domain.plan import GateRule, PhaseSpec
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.testing.world import T0, RolloutWorld

HOUR = 3600


def gated(
    on_deadline: DeadlineAction = DeadlineAction.EXPIRE, escalation: tuple[str, ...] = ()
) -> RolloutSpec:
    """10% then 100%, the 100% phase needing two release managers within an hour."""
    gate = GateRule(
        required=2,
        roles=("release-manager",),
        timeout_seconds=HOUR,
        on_deadline=on_deadline,
        escalation_roles=escalation,
    )
    return RolloutSpec(
        plan=(PhaseSpec(10, 600, Criteria()), PhaseSpec(100, 600, Criteria(), gate)),
    )


async def at_the_gate(world: RolloutWorld, spec: RolloutSpec | None = None) -> Rollout:
    """A gated rollout whose first phase has passed: the 100% phase awaits its approvals."""
    rollout = await world.request(spec=spec or gated())
    await world.verdict("security", True)
    await world.verdict("compat", True)
    await world.tick(seconds=600)
    return await world.get(rollout.rollout_id)


async def vote(
    world: RolloutWorld,
    rollout: Rollout,
    approver: str,
    *,
    approve: bool = True,
    role: str = "release-manager",
    verified: tuple[str, ...] | None = None,
) -> tuple[Rollout, Step]:
    return await controls.decide_gate(
        world.uow,
        GateVote(
            control=Control(world.tenant, rollout.rollout_id, approver, "looks fine"),
            phase_index=1,
            role=role,
            approve=approve,
            verified_roles=verified,
        ),
    )


async def test_a_passed_phase_waits_for_the_gate_of_the_next(world: RolloutWorld) -> None:
    """The criteria passed, but the share stays at 10% with a HOLD until two approvals come."""
    rollout = await at_the_gate(world)
    assert (rollout.state, rollout.percent, rollout.awaiting_approval) == (
        RolloutState.IN_PROGRESS,
        10,
        True,
    )
    assert rollout.gate is not None
    assert rollout.due_at() == rollout.gate.deadline == world.clock.now() + timedelta(seconds=HOUR)
    found, _ = await queries.list_decisions(world.uow, world.tenant, rollout.rollout_id)
    assert kinds(found) == ["hold:approval"]
    assert await world.tick(minutes=59) == 0


async def test_two_of_the_role_open_the_gate(world: RolloutWorld) -> None:
    """One approval is RECORDED, the same approver again DUPLICATE, a second one APPROVED: 100%."""
    rollout = await at_the_gate(world)
    assert (await vote(world, rollout, "alice"))[1] is Step.RECORDED
    assert (await vote(world, rollout, "alice"))[1] is Step.DUPLICATE
    opened, step = await vote(world, rollout, "bob")
    assert step is Step.APPROVED
    assert opened.percent == 100
    found, _ = await queries.list_decisions(world.uow, world.tenant, rollout.rollout_id)
    assert kinds(found) == ["hold:approval", "advance:approval"]
    records, _ = await queries.list_audit(world.uow, world.tenant, rollout.rollout_id)
    assert [(r.action, r.actor) for r in records] == [("approve", "alice"), ("approve", "bob")]


async def test_one_rejection_rolls_back(world: RolloutWorld) -> None:
    """A release manager rejecting the gate rolls the rollout back, the rejection as its reason."""
    rollout = await at_the_gate(world)
    rejected, step = await vote(world, rollout, "carol", approve=False)
    assert step is Step.REJECTED
    assert rejected.state is RolloutState.ROLLED_BACK
    assert rejected.reason == "phase 1 rejected (carol (release-manager))"
    assert len(world.events(ev.RolloutRolledBack)) == 1


async def test_a_role_that_may_not_decide_is_refused(world: RolloutWorld) -> None:
    """A developer's vote does not count: FAILED_PRECONDITION, and nothing is recorded."""
    rollout = await at_the_gate(world)
    with pytest.raises(FailedPreconditionError, match="may not decide"):
        await vote(world, rollout, "dave", role="developer")
    stored = await world.get(rollout.rollout_id)
    assert stored.gate is not None
    assert stored.gate.votes == ()


async def test_the_stated_role_must_be_on_the_callers_token(world: RolloutWorld) -> None:
    """Claiming release-manager with a token that holds only developer is PERMISSION_DENIED."""
    rollout = await at_the_gate(world)
    with pytest.raises(PermissionDeniedError):
        await vote(world, rollout, "erin", verified=("developer",))
    assert (await vote(world, rollout, "erin", verified=("release-manager",)))[1] is Step.RECORDED


async def test_an_unapproved_gate_expires_at_its_deadline_and_rolls_back(
    world: RolloutWorld,
) -> None:
    """EXPIRE: at the deadline the scheduler fails the gate and the rollout rolls back."""
    rollout = await at_the_gate(world)
    assert await world.tick(seconds=HOUR) == 1
    stored = await world.get(rollout.rollout_id)
    assert stored.state is RolloutState.ROLLED_BACK
    assert stored.reason == "phase 1 not approved in time (the deadline)"


async def test_auto_approval_opens_the_gate_at_its_deadline(world: RolloutWorld) -> None:
    """APPROVE: nobody objected within the hour, so the gate opens and the share goes to 100%."""
    rollout = await at_the_gate(world, gated(DeadlineAction.APPROVE))
    await world.tick(seconds=HOUR)
    stored = await world.get(rollout.rollout_id)
    assert (stored.state, stored.percent) == (RolloutState.IN_PROGRESS, 100)


async def test_escalation_hands_the_gate_to_other_roles_for_one_more_timeout(
    world: RolloutWorld,
) -> None:
    """ESCALATE: after an hour tenant admins decide, for another hour; then it expires."""
    rollout = await at_the_gate(world, gated(DeadlineAction.ESCALATE, ("tenant-admin",)))
    await world.tick(seconds=HOUR)
    escalated = await world.get(rollout.rollout_id)
    assert escalated.gate is not None
    assert escalated.gate.eligible_roles == ("tenant-admin",)
    assert escalated.state is RolloutState.IN_PROGRESS
    with pytest.raises(FailedPreconditionError):
        await vote(world, rollout, "alice")
    await world.tick(seconds=HOUR)
    assert (await world.get(rollout.rollout_id)).state is RolloutState.ROLLED_BACK


async def test_promote_stops_at_a_gate_not_yet_approved(world: RolloutWorld) -> None:
    """Promote full opens the gate on the way and waits there; promoting again is refused."""
    rollout = await world.request(spec=gated())
    await world.verdict("security", True)
    await world.verdict("compat", True)
    control = Control(world.tenant, rollout.rollout_id, "ops", "")
    held = await controls.promote(world.uow, control, full=True)
    assert (held.percent, held.awaiting_approval) == (10, True)
    with pytest.raises(FailedPreconditionError, match="approval gate"):
        await controls.promote(world.uow, control, full=True)


def test_the_first_phase_cannot_have_a_gate() -> None:
    """A gate before the first phase is the install's approval, not a rollout's: refused."""
    gate = GateRule(required=1, roles=("release-manager",))
    with pytest.raises(InvalidArgumentError, match="first phase cannot have an approval gate"):
        Rollout.request(
            rollout_id="ro-1",
            tenant_id="acme",
            plugin="left-pad",
            version="1.0.0",
            now=T0,
            plan=(PhaseSpec(10, 60, Criteria(), gate), PhaseSpec(100, 60)),
        )
