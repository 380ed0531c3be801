"""The approval state machine: N of M by role, idempotent votes, deadline expiry and escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portico_common.clock import ManualClock
from portico_security.install.domain.approvals import Approval, ApprovalState, Step
from portico_security.install.domain.policy import ApprovalRule, DeadlineAction
from portico_security.install.errors import ApprovalNotAllowedError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def two_of(roles: tuple[str, ...] = ("sec",), **kw: object) -> ApprovalRule:
    return ApprovalRule(required=2, roles=roles, timeout_seconds=3600, **kw)  # type: ignore[arg-type]


def test_two_distinct_approvers_approve() -> None:
    """The second distinct eligible approver completes a 2-of-M approval."""
    clock = ManualClock(T0)
    a = Approval.open(two_of(), clock.now())
    a, first = a.vote("alice", "sec", approve=True, comment="", now=clock.now())
    a, second = a.vote("bob", "sec", approve=True, comment="ok", now=clock.now())
    assert (first, second) == (Step.RECORDED, Step.APPROVED)
    assert a.state is ApprovalState.APPROVED
    assert a.approvers == ("alice", "bob")


def test_same_approver_twice_counts_once() -> None:
    """Approving twice is idempotent: the second vote changes nothing."""
    a = Approval.open(two_of(), T0)
    a, _ = a.vote("alice", "sec", approve=True, comment="", now=T0)
    again, step = a.vote("alice", "sec", approve=True, comment="", now=T0)
    assert step is Step.DUPLICATE
    assert again == a
    assert again.state is ApprovalState.PENDING


def test_repeat_approval_after_completion_is_a_duplicate() -> None:
    """An approver retrying after the approval completed gets the same answer, not an error."""
    a = Approval.open(ApprovalRule(required=1, roles=("sec",)), T0)
    a, _ = a.vote("alice", "sec", approve=True, comment="", now=T0)
    _, step = a.vote("alice", "sec", approve=True, comment="", now=T0)
    assert step is Step.DUPLICATE


def test_ineligible_role_is_refused() -> None:
    """A vote from a role the rule does not name does not count."""
    a = Approval.open(two_of(), T0)
    with pytest.raises(ApprovalNotAllowedError, match="role 'dev'"):
        a.vote("mallory", "dev", approve=True, comment="", now=T0)


def test_one_rejection_ends_the_workflow() -> None:
    """A rejection by an eligible approver rejects, and later votes are refused."""
    a = Approval.open(two_of(), T0)
    a, step = a.vote("alice", "sec", approve=False, comment="no", now=T0)
    assert step is Step.REJECTED
    with pytest.raises(ApprovalNotAllowedError, match="rejected"):
        a.vote("bob", "sec", approve=True, comment="", now=T0)


def test_deadline_expires() -> None:
    """At the deadline an EXPIRE rule expires the approval; votes after it are refused."""
    clock = ManualClock(T0)
    a = Approval.open(two_of(), clock.now())
    same, nothing = a.on_time(clock.now() + timedelta(seconds=3599))
    assert nothing is None
    assert same == a
    clock.advance(hours=1)
    a, step = a.on_time(clock.now())
    assert step is Step.EXPIRED
    assert a.state is ApprovalState.EXPIRED
    with pytest.raises(ApprovalNotAllowedError):
        a.vote("alice", "sec", approve=True, comment="", now=clock.now())


def test_vote_after_deadline_before_sweep_is_refused() -> None:
    """A vote that arrives after the deadline but before the scheduler's sweep does not count."""
    a = Approval.open(two_of(), T0)
    with pytest.raises(ApprovalNotAllowedError, match="deadline"):
        a.vote("alice", "sec", approve=True, comment="", now=T0 + timedelta(hours=1))


def test_deadline_escalates_once_then_expires() -> None:
    """An ESCALATE rule hands over to the escalation roles for one more timeout, then expires."""
    clock = ManualClock(T0)
    rule = two_of(on_deadline=DeadlineAction.ESCALATE, escalation_roles=("admin",))
    a = Approval.open(rule, clock.now())
    a, _ = a.vote("alice", "sec", approve=True, comment="", now=clock.now())
    clock.advance(hours=1)
    a, step = a.on_time(clock.now())
    assert step is Step.ESCALATED
    assert a.eligible_roles == ("admin",)
    assert a.deadline == clock.now() + timedelta(hours=1)
    with pytest.raises(ApprovalNotAllowedError):
        a.vote("bob", "sec", approve=True, comment="", now=clock.now())
    escalated, done = a.vote("carol", "admin", approve=True, comment="", now=clock.now())
    assert done is Step.APPROVED  # alice's earlier approval still counts
    assert escalated.approvers == ("alice", "carol")
    clock.advance(hours=1)
    expired, last = a.on_time(clock.now())
    assert last is Step.EXPIRED
    assert expired.state is ApprovalState.EXPIRED
