"""Operator controls and approvals: a change, its decisions and its audit record in one transaction.

The caller is the token's subject (the interceptor checked its permission,
`rollouts.control` or `rollouts.approve`, and its idempotency key). A control
that changes nothing (pausing a paused rollout) writes no audit record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from portico_common.approvals import Step
from portico_common.tenants import require_tenant_id
from portico_rollout.app.handlers import Defaults, RolloutSpec, commit, request_rollout
from portico_rollout.app.ports import RolloutUnitOfWork, SloSource, UnitOfWorkFactory
from portico_rollout.domain.audit import AuditRecord
from portico_rollout.domain.events import RolloutEvent, RolloutPaused, RolloutResumed
from portico_rollout.domain.naming import validate_id
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import (
    ApproverRoleNotHeldError,
    InvalidRolloutError,
    RolloutNotFinishedError,
    RolloutNotFoundError,
)

MAX_REASON = 1000


@dataclass(frozen=True, slots=True)
class Control:
    """Who asks for a control on which rollout, and why."""

    tenant_id: str
    rollout_id: str
    actor: str
    reason: str = ""

    def check(self) -> None:
        require_tenant_id(self.tenant_id)
        validate_id("rollout_id", self.rollout_id)
        if len(self.reason) > MAX_REASON or not self.reason.isprintable():
            raise InvalidRolloutError(
                "reason", f"must be at most {MAX_REASON} printable characters"
            )


# What a control does to a loaded rollout: its events, and whether it changed anything.
Change = Callable[[Rollout, Control, RolloutUnitOfWork], tuple[list[RolloutEvent], bool]]


async def _apply(uow: UnitOfWorkFactory, control: Control, action: str, change: Change) -> Rollout:
    control.check()
    async with uow(control.tenant_id) as tx:
        rollout = await tx.rollouts.get(control.tenant_id, control.rollout_id)
        if rollout is None:
            raise RolloutNotFoundError(control.rollout_id)
        events, changed = change(rollout, control, tx)
        if changed:
            now = tx.clock.now()
            await commit(tx, rollout, events, now)
            detail = f"{rollout.state.value} at {rollout.percent}% (phase {rollout.phase_index})"
            await tx.audit.add(_record(control, action, now, detail))
    return rollout


def _record(control: Control, action: str, now: datetime, detail: str) -> AuditRecord:
    return AuditRecord(
        tenant_id=control.tenant_id,
        rollout_id=control.rollout_id,
        at=now,
        actor=control.actor or "anonymous",
        action=action,
        reason=control.reason,
        detail=detail,
    )


def _held(
    kind: type[RolloutPaused | RolloutResumed], r: Rollout, c: Control, now: datetime
) -> list[RolloutEvent]:
    # Announced so every replica's resolve view (and each watcher) sees the new state.
    return [
        kind(
            tenant_id=r.tenant_id,
            rollout_id=r.rollout_id,
            plugin=r.plugin,
            version=r.version,
            occurred_at=now,
            phase_index=r.phase_index,
            percent=r.percent,
            actor=c.actor,
            reason=c.reason,
        )
    ]


async def pause(uow: UnitOfWorkFactory, control: Control) -> Rollout:
    def change(r: Rollout, c: Control, tx: RolloutUnitOfWork) -> tuple[list[RolloutEvent], bool]:
        now = tx.clock.now()
        changed = r.pause(now, actor=c.actor, reason=c.reason)
        return (_held(RolloutPaused, r, c, now) if changed else []), changed

    return await _apply(uow, control, "pause", change)


async def resume(uow: UnitOfWorkFactory, control: Control) -> Rollout:
    def change(r: Rollout, c: Control, tx: RolloutUnitOfWork) -> tuple[list[RolloutEvent], bool]:
        now = tx.clock.now()
        changed = r.resume(now, actor=c.actor, reason=c.reason)
        return (_held(RolloutResumed, r, c, now) if changed else []), changed

    return await _apply(uow, control, "resume", change)


async def promote(uow: UnitOfWorkFactory, control: Control, *, full: bool) -> Rollout:
    def change(r: Rollout, c: Control, tx: RolloutUnitOfWork) -> tuple[list[RolloutEvent], bool]:
        return r.promote(tx.clock.now(), full=full, actor=c.actor, reason=c.reason), True

    return await _apply(uow, control, "promote_full" if full else "promote", change)


async def abort(uow: UnitOfWorkFactory, control: Control) -> Rollout:
    def change(r: Rollout, c: Control, tx: RolloutUnitOfWork) -> tuple[list[RolloutEvent], bool]:
        return r.abort(tx.clock.now(), actor=c.actor, reason=c.reason), True

    return await _apply(uow, control, "abort", change)


async def retry(
    uow: UnitOfWorkFactory, slo: SloSource, control: Control, defaults: Defaults
) -> Rollout:
    """A failed rollout again, as a new attempt with the same plan; audited on the old one."""
    control.check()
    async with uow(control.tenant_id) as tx:
        failed = await tx.rollouts.get(control.tenant_id, control.rollout_id)
    if failed is None:
        raise RolloutNotFoundError(control.rollout_id)
    if failed.state not in (RolloutState.ROLLED_BACK, RolloutState.REFUSED):
        raise RolloutNotFinishedError(failed.rollout_id, failed.state.value)
    spec = RolloutSpec(
        strategy=failed.strategy,
        plan=failed.plan,
        bake_seconds=failed.bake_seconds,
        hold_timeout_seconds=failed.hold_timeout_seconds,
    )
    attempt = await request_rollout(
        uow,
        slo,
        failed.tenant_id,
        failed.plugin,
        failed.version,
        spec=spec,
        defaults=defaults,
        attempt=failed.attempt + 1,
        retry_of=failed.rollout_id,
    )
    async with uow(control.tenant_id) as tx:
        detail = f"attempt {attempt.attempt}: rollout {attempt.rollout_id}"
        await tx.audit.add(_record(control, "retry", tx.clock.now(), detail))
    return attempt


@dataclass(frozen=True, slots=True)
class GateVote:
    """One approver's decision on a phase's gate.

    `verified_roles` are the roles of the caller's verified token; None means
    no token was verified (no auth configured), so the stated role is trusted.
    """

    control: Control
    phase_index: int
    role: str
    approve: bool
    verified_roles: tuple[str, ...] | None = None


async def decide_gate(uow: UnitOfWorkFactory, vote: GateVote) -> tuple[Rollout, Step]:
    """Counts the vote; an approved gate advances the rollout, a rejected one rolls it back."""
    control = vote.control
    if vote.verified_roles is not None and vote.role not in vote.verified_roles:
        raise ApproverRoleNotHeldError(control.actor, vote.role, vote.verified_roles)
    if not control.actor.strip():
        raise InvalidRolloutError("approver", "an approval needs an authenticated approver")
    steps: list[Step] = []

    def change(r: Rollout, c: Control, tx: RolloutUnitOfWork) -> tuple[list[RolloutEvent], bool]:
        events, step = r.decide_gate(
            vote.phase_index,
            approver=c.actor,
            role=vote.role,
            approve=vote.approve,
            comment=c.reason,
            now=tx.clock.now(),
        )
        steps.append(step)
        return events, step is not Step.DUPLICATE

    action = "approve" if vote.approve else "reject"
    rollout = await _apply(uow, control, action, change)
    return rollout, steps[0]
