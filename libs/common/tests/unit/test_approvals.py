"""The shared N-of-M approval model: votes, rejection, the deadline's three outcomes, hooks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest

from portico_common.approvals import (
    Approval,
    ApprovalNotAllowedError,
    ApprovalRule,
    ApprovalState,
    DeadlineAction,
    InvalidApprovalRuleError,
    RuleErrorFactory,
    Step,
)
from portico_common.errors import FailedPreconditionError, InvalidArgumentError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def rule(**changes: object) -> ApprovalRule:
    values: dict[str, object] = {"required": 2, "roles": ("release-manager",)}
    values.update(changes)
    return ApprovalRule(**values)  # type: ignore[arg-type]


def test_two_of_three_approve() -> None:
    """The second distinct approver with an eligible role approves; the first only counts."""
    a = Approval.open(rule(), T0)
    a, first = a.vote("ann", "release-manager", approve=True, comment="", now=T0)
    a, second = a.vote("bob", "release-manager", approve=True, comment="ok", now=T0)
    assert (first, second) == (Step.RECORDED, Step.APPROVED)
    assert a.state is ApprovalState.APPROVED
    assert a.approvers == ("ann", "bob")


def test_the_same_approver_twice_counts_once() -> None:
    """An approver repeating their approval changes nothing."""
    a, _ = Approval.open(rule(), T0).vote(
        "ann", "release-manager", approve=True, comment="", now=T0
    )
    again, step = a.vote("ann", "release-manager", approve=True, comment="", now=T0)
    assert (step, again) == (Step.DUPLICATE, a)


def test_one_rejection_ends_it() -> None:
    """An eligible rejection decides the approval; later votes are refused."""
    a, step = Approval.open(rule(), T0).vote(
        "ann", "release-manager", approve=False, comment="no", now=T0
    )
    assert (step, a.state) == (Step.REJECTED, ApprovalState.REJECTED)
    with pytest.raises(ApprovalNotAllowedError, match="rejected already"):
        a.vote("bob", "release-manager", approve=True, comment="", now=T0)


def test_an_ineligible_role_or_a_late_vote_is_refused() -> None:
    """Only the rule's roles decide, and only before the deadline."""
    a = Approval.open(rule(timeout_seconds=60), T0)
    with pytest.raises(ApprovalNotAllowedError, match="role 'developer'"):
        a.vote("ann", "developer", approve=True, comment="", now=T0)
    with pytest.raises(ApprovalNotAllowedError, match="deadline"):
        a.vote("ann", "release-manager", approve=True, comment="", now=T0 + timedelta(seconds=60))


@pytest.mark.parametrize(
    ("action", "step", "state"),
    [
        (DeadlineAction.EXPIRE, Step.EXPIRED, ApprovalState.EXPIRED),
        (DeadlineAction.APPROVE, Step.AUTO_APPROVED, ApprovalState.APPROVED),
    ],
)
def test_the_deadline_expires_or_auto_approves(
    action: DeadlineAction, step: Step, state: ApprovalState
) -> None:
    """At the deadline the rule decides: expire (the gate fails) or approve (nobody objected)."""
    a = Approval.open(rule(timeout_seconds=60, on_deadline=action), T0)
    assert a.on_time(T0 + timedelta(seconds=59)) == (a, None)
    after, happened = a.on_time(T0 + timedelta(seconds=60))
    assert (happened, after.state) == (step, state)


def test_escalation_hands_over_once_then_expires() -> None:
    """ESCALATE gives other roles one more timeout; at the second deadline it expires."""
    a = Approval.open(
        rule(timeout_seconds=60, on_deadline=DeadlineAction.ESCALATE, escalation_roles=("admin",)),
        T0,
    )
    a, step = a.on_time(T0 + timedelta(seconds=60))
    assert (step, a.eligible_roles, a.deadline) == (
        Step.ESCALATED,
        ("admin",),
        T0 + timedelta(seconds=120),
    )
    a, step = a.on_time(T0 + timedelta(seconds=120))
    assert (step, a.state) == (Step.EXPIRED, ApprovalState.EXPIRED)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"required": 0}, "approval.required"),
        ({"roles": ()}, "approval.roles"),
        ({"timeout_seconds": 0}, "approval.timeout_seconds"),
        ({"on_deadline": DeadlineAction.ESCALATE}, "approval.escalation_roles"),
    ],
)
def test_a_rule_that_cannot_work_is_refused(changes: dict[str, object], field: str) -> None:
    """Each impossible rule is refused naming its field, as an invalid argument."""
    with pytest.raises(InvalidApprovalRuleError) as raised:
        rule(**changes)
    assert raised.value.field == field
    assert isinstance(raised.value, InvalidArgumentError)


class _ServiceRefusalError(FailedPreconditionError):
    def __init__(self, problem: str) -> None:
        super().__init__(f"service says: {problem}")


class _ServiceInvalidError(InvalidArgumentError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"service rule {field}: {problem}")


class _ServiceApproval(Approval):
    refusal: ClassVar[type[_ServiceRefusalError]] = _ServiceRefusalError


@dataclass(frozen=True)
class _ServiceRule(ApprovalRule):
    roles: tuple[str, ...] = ("reviewer",)
    invalid_rule: ClassVar[RuleErrorFactory] = _ServiceInvalidError


def test_a_service_substitutes_its_own_errors_and_keeps_its_class() -> None:
    """Subclasses raise their own errors, and transitions return the subclass."""
    with pytest.raises(_ServiceInvalidError, match=r"service rule approval\.required"):
        _ServiceRule(required=0)
    a = _ServiceApproval.open(_ServiceRule(), T0)
    with pytest.raises(_ServiceRefusalError, match="service says"):
        a.vote("ann", "nobody", approve=True, comment="", now=T0)
    voted, _ = a.vote("ann", "reviewer", approve=True, comment="", now=T0)
    assert type(voted) is _ServiceApproval
