"""N-of-M approvals by role with a deadline: the one model installs and rollouts share.

A pure state machine with time passed in. Approvals are idempotent (the same
approver twice counts once); one rejection by an eligible approver ends the
workflow; at the deadline it expires, auto-approves, or, once, escalates to
other roles for another timeout, as the rule says.

A service that wants its own error types for a refused vote or a malformed
rule subclasses `Approval` / `ApprovalRule` and sets `refusal` /
`invalid_rule`; everything else is shared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar, Protocol, Self

from portico_common.errors import FailedPreconditionError, InvalidArgumentError


class DeadlineAction(StrEnum):
    """What happens to a pending approval when its deadline passes."""

    EXPIRE = "EXPIRE"
    ESCALATE = "ESCALATE"
    # The approval is granted by the deadline (a gate that only gives people a chance to object).
    APPROVE = "APPROVE"


class ApprovalState(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


class Step(StrEnum):
    """What one call did to the workflow; each becomes an event and an audit record."""

    RECORDED = "RECORDED"  # counted, more approvals needed
    DUPLICATE = "DUPLICATE"  # this approver had approved already: nothing changed
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    ESCALATED = "ESCALATED"
    AUTO_APPROVED = "AUTO_APPROVED"  # the deadline passed under DeadlineAction.APPROVE


class InvalidApprovalRuleError(InvalidArgumentError):
    """An approval rule that cannot be satisfied or makes no sense."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"invalid {field}: {problem}")
        self.field = field
        self.problem = problem


class ApprovalNotAllowedError(FailedPreconditionError):
    """A vote that cannot count: wrong role, too late, or the approval is decided."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"approval refused: {problem}")
        self.problem = problem


class RuleErrorFactory(Protocol):
    def __call__(self, field: str, problem: str) -> Exception: ...


@dataclass(frozen=True)
class ApprovalRule:
    """N of the approvers holding one of `roles`, before `timeout_seconds` run out."""

    required: int = 1
    roles: tuple[str, ...] = ()
    timeout_seconds: int = 24 * 3600
    on_deadline: DeadlineAction = DeadlineAction.EXPIRE
    # Who may decide once the approval is escalated, for one more timeout.
    escalation_roles: tuple[str, ...] = ()

    invalid_rule: ClassVar[RuleErrorFactory] = InvalidApprovalRuleError

    def __post_init__(self) -> None:
        invalid = type(self).invalid_rule
        if self.required < 1:
            raise invalid("approval.required", "must be at least 1")
        if not self.roles or any(not r.strip() for r in self.roles):
            raise invalid("approval.roles", "must name at least one role")
        if self.timeout_seconds < 1:
            raise invalid("approval.timeout_seconds", "must be at least 1")
        if self.on_deadline is DeadlineAction.ESCALATE and not self.escalation_roles:
            raise invalid("approval.escalation_roles", "escalation needs a role")


@dataclass(frozen=True)
class Vote:
    approver: str
    role: str
    approve: bool
    comment: str
    at: datetime


@dataclass(frozen=True)
class Approval:
    """A workflow's whole state; every transition returns a new value of the same class."""

    rule: ApprovalRule
    deadline: datetime
    state: ApprovalState = ApprovalState.PENDING
    escalated: bool = False
    votes: tuple[Vote, ...] = field(default=())

    refusal: ClassVar[Callable[[str], Exception]] = ApprovalNotAllowedError

    @classmethod
    def open(cls, rule: ApprovalRule, now: datetime) -> Self:
        return cls(rule=rule, deadline=now + timedelta(seconds=rule.timeout_seconds))

    @property
    def eligible_roles(self) -> tuple[str, ...]:
        if self.escalated:
            return self.rule.escalation_roles
        return self.rule.roles

    @property
    def approvers(self) -> tuple[str, ...]:
        return tuple(v.approver for v in self.votes if v.approve)

    def vote(
        self, approver: str, role: str, *, approve: bool, comment: str, now: datetime
    ) -> tuple[Self, Step]:
        """Counts one approver's decision; raises the refusal error if it cannot count."""
        refuse = type(self).refusal
        if not approver.strip():
            raise refuse("an approver must be named")
        if self.state is not ApprovalState.PENDING:
            if approve and self.state is ApprovalState.APPROVED and approver in self.approvers:
                return self, Step.DUPLICATE
            raise refuse(f"the approval is {self.state.value.lower()} already")
        if now >= self.deadline:
            raise refuse("the approval deadline has passed")
        if role not in self.eligible_roles:
            raise refuse(
                f"role {role!r} may not decide; eligible: {', '.join(self.eligible_roles)}"
            )
        if approve and approver in self.approvers:
            return self, Step.DUPLICATE
        votes = (*self.votes, Vote(approver, role, approve, comment, now))
        if not approve:
            return replace(self, votes=votes, state=ApprovalState.REJECTED), Step.REJECTED
        count = len({v.approver for v in votes if v.approve})
        if count >= self.rule.required:
            return replace(self, votes=votes, state=ApprovalState.APPROVED), Step.APPROVED
        return replace(self, votes=votes), Step.RECORDED

    def on_time(self, now: datetime) -> tuple[Self, Step | None]:
        """At or after the deadline: escalate once, auto-approve, or expire, as the rule says."""
        if self.state is not ApprovalState.PENDING or now < self.deadline:
            return self, None
        action = self.rule.on_deadline
        if action is DeadlineAction.ESCALATE and not self.escalated:
            deadline = now + timedelta(seconds=self.rule.timeout_seconds)
            return replace(self, escalated=True, deadline=deadline), Step.ESCALATED
        if action is DeadlineAction.APPROVE:
            return replace(self, state=ApprovalState.APPROVED), Step.AUTO_APPROVED
        return replace(self, state=ApprovalState.EXPIRED), Step.EXPIRED
