"""The approval workflow of one install request: N of M approvers by role, with a deadline.

A state machine with time passed in. Approvals are idempotent (the same
approver twice counts once); one rejection by an eligible approver ends the
workflow; at the deadline it expires or, once, escalates to other roles for
another timeout.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from portico_security.install.domain.policy import ApprovalRule, DeadlineAction
from portico_security.install.errors import ApprovalNotAllowedError


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


@dataclass(frozen=True, slots=True)
class Vote:
    approver: str
    role: str
    approve: bool
    comment: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Approval:
    """A workflow's whole state; every transition returns a new value."""

    rule: ApprovalRule
    deadline: datetime
    state: ApprovalState = ApprovalState.PENDING
    escalated: bool = False
    votes: tuple[Vote, ...] = field(default=())

    @classmethod
    def open(cls, rule: ApprovalRule, now: datetime) -> Approval:
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
    ) -> tuple[Approval, Step]:
        """Counts one approver's decision; raises ApprovalNotAllowedError if it cannot count."""
        if not approver.strip():
            raise ApprovalNotAllowedError("an approver must be named")
        if self.state is not ApprovalState.PENDING:
            if approve and self.state is ApprovalState.APPROVED and approver in self.approvers:
                return self, Step.DUPLICATE
            raise ApprovalNotAllowedError(f"the approval is {self.state.value.lower()} already")
        if now >= self.deadline:
            raise ApprovalNotAllowedError("the approval deadline has passed")
        if role not in self.eligible_roles:
            raise ApprovalNotAllowedError(
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

    def on_time(self, now: datetime) -> tuple[Approval, Step | None]:
        """At or after the deadline: escalate once (if the rule says so), else expire."""
        if self.state is not ApprovalState.PENDING or now < self.deadline:
            return self, None
        if self.rule.on_deadline is DeadlineAction.ESCALATE and not self.escalated:
            deadline = now + timedelta(seconds=self.rule.timeout_seconds)
            return replace(self, escalated=True, deadline=deadline), Step.ESCALATED
        return replace(self, state=ApprovalState.EXPIRED), Step.EXPIRED
