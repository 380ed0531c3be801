"""Reads: one rollout with its health and decisions, listings, decisions and the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from portico_common.npm import require_package_name
from portico_common.tenants import require_tenant_id
from portico_rollout.app.ports import UnitOfWorkFactory
from portico_rollout.domain.audit import AuditRecord
from portico_rollout.domain.decisions import Decision, DecisionKind
from portico_rollout.domain.naming import validate_id
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import InvalidRolloutError, RolloutNotFoundError


@dataclass(frozen=True, slots=True)
class Health:
    """How the rollout is doing, from its latest decision on evidence."""

    status: str
    summary: str
    decision: Decision | None = None


@dataclass(frozen=True, slots=True)
class RolloutView:
    """A rollout with its latest decisions (newest first) and its health."""

    rollout: Rollout
    decisions: list[Decision]
    health: Health


# What the criteria made of the latest evidence (a pass held by a gate is still healthy).
_STATUS = {"pass": "healthy", "hold": "holding", "fail": "failing"}


async def view_rollout(
    uow: UnitOfWorkFactory, tenant_id: str, rollout_id: str, *, decisions: int = 20
) -> RolloutView:
    """The rollout, its newest decisions and its health (GetRollout)."""
    require_tenant_id(tenant_id)
    validate_id("rollout_id", rollout_id)
    async with uow(tenant_id) as tx:
        rollout = await tx.rollouts.get(tenant_id, rollout_id)
        if rollout is None:
            raise RolloutNotFoundError(rollout_id)
        latest = await tx.decisions.latest(tenant_id, rollout_id, decisions)
    judged = next((d for d in latest if d.on_evidence), None)
    if judged is None:
        health = Health("unknown", "not judged on evidence yet")
    else:
        outcome = "fail" if judged.kind is DecisionKind.FAIL else judged.evidence.get("outcome")
        status = _STATUS.get(str(outcome), "unknown")
        health = Health(status, "; ".join(judged.reasons), judged)
    return RolloutView(rollout, latest, health)


MAX_PAGE = 500


async def list_rollouts(
    uow: UnitOfWorkFactory,
    tenant_id: str,
    *,
    plugin: str = "",
    states: Sequence[RolloutState] = (),
    page_size: int = 0,
    page_token: str = "",
) -> tuple[list[Rollout], str]:
    """A page of the tenant's rollouts, newest first, and the next page's token ("" at the end)."""
    require_tenant_id(tenant_id)
    if plugin:
        require_package_name(plugin, "plugin")
    size = _page_size(page_size, 50)
    after = _parse_token(page_token)
    async with uow(tenant_id) as tx:
        found = await tx.rollouts.page(
            tenant_id,
            plugin=plugin,
            states=[s.value for s in states],
            after=after,
            limit=size + 1,
        )
    page = found[:size]
    if len(found) <= size:
        return page, ""
    last = page[-1]
    return page, f"{last.created_at.isoformat()}|{last.rollout_id}"


def _parse_token(token: str) -> tuple[datetime, str] | None:
    if not token:
        return None
    at, _, rollout_id = token.partition("|")
    try:
        parsed = datetime.fromisoformat(at)
    except ValueError as exc:
        raise InvalidRolloutError("page_token", f"{token!r} is not a page token") from exc
    if not rollout_id or parsed.tzinfo is None:
        raise InvalidRolloutError("page_token", f"{token!r} is not a page token")
    return parsed, rollout_id


def _page_size(page_size: int, default: int) -> int:
    if page_size > MAX_PAGE:
        raise InvalidRolloutError("page_size", f"{page_size} is above {MAX_PAGE}")
    return page_size or default


def _number_token(token: str) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise InvalidRolloutError("page_token", f"{token!r} is not a page token")
    return int(token)


async def list_decisions(
    uow: UnitOfWorkFactory,
    tenant_id: str,
    rollout_id: str,
    *,
    page_size: int = 0,
    page_token: str = "",
) -> tuple[list[Decision], str]:
    """A page of the rollout's decisions, oldest first, and the next page's token."""
    require_tenant_id(tenant_id)
    validate_id("rollout_id", rollout_id)
    size = _page_size(page_size, 100)
    async with uow(tenant_id) as tx:
        if await tx.rollouts.get(tenant_id, rollout_id) is None:
            raise RolloutNotFoundError(rollout_id)
        found = await tx.decisions.for_rollout(
            tenant_id, rollout_id, after_seq=_number_token(page_token), limit=size + 1
        )
    page = found[:size]
    return page, str(page[-1].seq) if len(found) > size else ""


async def list_audit(
    uow: UnitOfWorkFactory,
    tenant_id: str,
    rollout_id: str = "",
    *,
    page_size: int = 0,
    page_token: str = "",
) -> tuple[list[AuditRecord], str]:
    """A page of the tenant's audit trail (of one rollout, if named), oldest first."""
    require_tenant_id(tenant_id)
    if rollout_id:
        validate_id("rollout_id", rollout_id)
    size = _page_size(page_size, 100)
    async with uow(tenant_id) as tx:
        found = await tx.audit.page(
            tenant_id, rollout_id, after=_number_token(page_token), limit=size + 1
        )
    page = found[:size]
    return page, str(page[-1].seq) if len(found) > size else ""
