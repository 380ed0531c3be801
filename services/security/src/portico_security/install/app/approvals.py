"""Approval use cases: approve, reject, read a request, and the deadline sweep.

Each decision saves the request, emits its event and appends its audit
record in one transaction. An approver approving twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portico_common.tenants import ALL_TENANTS, require_tenant_id
from portico_security.install.app.audit import record
from portico_security.install.app.install import announce_decision
from portico_security.install.app.ports import InstallUnitOfWork, InstallUowFactory
from portico_security.install.app.validation import check_text
from portico_security.install.domain.approvals import Step
from portico_security.install.domain.events import InstallApprovalRecorded, InstallEscalated
from portico_security.install.domain.requests import InstallRequest, ReviewNote
from portico_security.install.errors import (
    ApprovalNotAllowedError,
    InstallRequestNotFoundError,
    InvalidInstallRequestError,
    RoleNotHeldError,
)


@dataclass(frozen=True, slots=True)
class Decide:
    """One approver's decision on one install request.

    `verified_roles` are the roles of the caller's verified token, and then
    `approver` is the token's subject; None means no token was verified, so the
    stated approver and role are trusted as given (never in production).
    """

    tenant_id: str
    request_id: str
    approver: str
    role: str
    # Kept in the request's sealed body, quoted in the history and the (sealed)
    # audit trail, never in events: they only say whether there was one.
    comment: str
    verified_roles: tuple[str, ...] | None = None
    # For the reviewers only: kept in the request's sealed body, never in the
    # history, the events or the audit trail (unlike the comment).
    private_note: str = ""


@dataclass(frozen=True, slots=True)
class DecisionResult:
    request: InstallRequest
    step: Step


async def approve(uow: InstallUowFactory, command: Decide) -> DecisionResult:
    return await _decide(uow, command, approve=True)


async def reject(uow: InstallUowFactory, command: Decide) -> DecisionResult:
    if not command.comment.strip():
        raise InvalidInstallRequestError("comment", "a rejection must say why")
    return await _decide(uow, command, approve=False)


async def get_request(uow: InstallUowFactory, tenant_id: str, request_id: str) -> InstallRequest:
    require_tenant_id(tenant_id)
    check_text("request_id", request_id, required=True)
    async with uow(tenant_id) as tx:
        request = await tx.install_requests.get(tenant_id, request_id)
    if request is None:
        raise InstallRequestNotFoundError(request_id)
    return request


async def expire_due_approvals(uow: InstallUowFactory, now: datetime, limit: int) -> int:
    """Expires or escalates every pending approval past its deadline; returns how many."""
    async with uow(ALL_TENANTS) as scan:
        due = await scan.install_requests.due(now, limit)
    for tenant_id, request_id in due:
        async with uow(tenant_id) as tx:
            request = await tx.install_requests.get(tenant_id, request_id, lock=True)
            if request is None or request.approval is None:
                continue
            approval, step = request.approval.on_time(tx.clock.now())
            if step is None:
                continue  # another replica got there first
            detail = (
                f"deadline passed; escalated to {', '.join(approval.eligible_roles)}"
                if step is Step.ESCALATED
                else "deadline passed"
            )
            updated = request.after(approval, step, "scheduler", detail, tx.clock.now())
            await tx.install_requests.save(updated)
            if step is Step.ESCALATED:
                await _announce_escalation(tx, updated)
            else:
                await announce_decision(tx, updated, actor="scheduler", reason=detail)
    return len(due)


async def _decide(uow: InstallUowFactory, command: Decide, *, approve: bool) -> DecisionResult:
    require_tenant_id(command.tenant_id)
    check_text("request_id", command.request_id, required=True)
    check_text("approver", command.approver, required=True)
    check_text("role", command.role, required=True)
    check_text("comment", command.comment)
    check_text("private_note", command.private_note)
    if command.verified_roles is not None and command.role not in command.verified_roles:
        raise RoleNotHeldError(command.approver, command.role, command.verified_roles)
    async with uow(command.tenant_id) as tx:
        request = await tx.install_requests.get(command.tenant_id, command.request_id, lock=True)
        if request is None:
            raise InstallRequestNotFoundError(command.request_id)
        if request.approval is None:
            raise ApprovalNotAllowedError(
                f"request {request.request_id} needs no approval (it is {request.status.value})"
            )
        if approve and command.approver in requesters(request.requested_by):
            # Four eyes: whoever asked for the install cannot be one of its approvers.
            raise ApprovalNotAllowedError(f"{command.approver} requested this install")
        now = tx.clock.now()
        approval, step = request.approval.vote(
            command.approver, command.role, approve=approve, comment=command.comment, now=now
        )
        if step is Step.DUPLICATE:
            return DecisionResult(request, step)
        reason = command.comment or step.value.lower()
        updated = request.after(approval, step, command.approver, reason, now)
        if command.private_note.strip():
            updated = updated.noted(
                ReviewNote(now, command.approver, command.role, command.private_note)
            )
        await tx.install_requests.save(updated)
        await tx.publish(
            [
                InstallApprovalRecorded(
                    tenant_id=updated.tenant_id,
                    request_id=updated.request_id,
                    plugin=updated.plugin,
                    version=updated.version,
                    approver=command.approver,
                    role=command.role,
                    approve=approve,
                    has_comment=bool(command.comment.strip()),
                    approvals=len(approval.approvers),
                    required=approval.rule.required,
                )
            ]
        )
        await record(
            tx,
            updated.tenant_id,
            actor=command.approver,
            action="approval.approve" if approve else "approval.reject",
            subject=updated.subject,
            reason=f"as {command.role}: {reason}",
            evidence_digest=updated.evidence_digest,
        )
        if step in (Step.APPROVED, Step.REJECTED):
            # The audit record (sealed) quotes the comment; the event does not.
            await announce_decision(
                tx, updated, actor=command.approver, reason=reason, announced=step.value.lower()
            )
    return DecisionResult(updated, step)


async def _announce_escalation(tx: InstallUnitOfWork, request: InstallRequest) -> None:
    approval = request.approval
    assert approval is not None  # noqa: S101 - only a workflow escalates
    await tx.publish(
        [
            InstallEscalated(
                tenant_id=request.tenant_id,
                request_id=request.request_id,
                plugin=request.plugin,
                version=request.version,
                roles=approval.eligible_roles,
                deadline=approval.deadline,
            )
        ]
    )
    await record(
        tx,
        request.tenant_id,
        actor="scheduler",
        action="install.escalated",
        subject=request.subject,
        reason=f"deadline passed; now {', '.join(approval.eligible_roles)} decide",
        evidence_digest=request.evidence_digest,
    )


def requesters(requested_by: str) -> frozenset[str]:
    """Who asked for an install: the recorded actor, and the authenticated caller
    behind it when one named someone else ("dev-bob (via svc-portal)")."""
    found = {requested_by}
    named, via, rest = requested_by.rpartition(" (via ")
    if via and rest.endswith(")"):
        found |= {named, rest[:-1]}
    return frozenset(found)
