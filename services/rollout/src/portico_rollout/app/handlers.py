"""Rollout use cases: commands from RPCs, reactions to events, and the scheduler's step.

Every change to a rollout and the events it causes commit in one transaction
(`_commit`): the row, the rollback saga's rows, the stable version, the outbox.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from portico_common.npm import require_package_name, require_version
from portico_common.tenants import ALL_TENANTS, require_tenant_id
from portico_rollout.app.ports import RolloutUnitOfWork, UnitOfWorkFactory
from portico_rollout.app.saga import run_rollback_saga
from portico_rollout.domain.events import (
    RolloutCompleted,
    RolloutEvent,
    RolloutRequested,
    RolloutRolledBack,
)
from portico_rollout.domain.naming import validate_id
from portico_rollout.domain.phases import DEFAULT_PHASES
from portico_rollout.domain.rollout import DEFAULT_BAKE_SECONDS, Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.domain.verdicts import CheckVerdict, apply_verdicts
from portico_rollout.errors import (
    InvalidRolloutError,
    RolloutAlreadyExistsError,
    RolloutNotFoundError,
)

# -- commands ------------------------------------------------------------------------


async def request_rollout(
    uow: UnitOfWorkFactory,
    tenant_id: str,
    plugin: str,
    version: str,
    *,
    phases: Sequence[int] = (),
    bake_seconds: int = 0,
    default_bake_seconds: int = DEFAULT_BAKE_SECONDS,
) -> Rollout:
    """Creates a canary for the plugin version over the current stable version.

    Verdicts recorded before the request count at once, so a rollout whose
    checks both passed already starts here, and a rejected one is refused.
    Empty phases and bake 0 mean the defaults.
    """
    require_tenant_id(tenant_id)
    require_package_name(plugin, "plugin")
    require_version(version, "version")
    async with uow(tenant_id) as tx:
        await tx.rollouts.lock_plugin(tenant_id, plugin)
        active = await tx.rollouts.active_for(tenant_id, plugin)
        if active is not None:
            raise RolloutAlreadyExistsError(tenant_id, plugin, active.rollout_id)
        now = tx.clock.now()
        rollout = Rollout.request(
            rollout_id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            plugin=plugin,
            version=version,
            now=now,
            stable_version=await tx.stable_versions.get(tenant_id, plugin),
            phases=tuple(phases) or DEFAULT_PHASES,
            bake_seconds=bake_seconds or default_bake_seconds,
        )
        # Announced even when verdicts start it at once: read paths learn of it from events.
        requested = RolloutRequested(
            tenant_id=tenant_id,
            rollout_id=rollout.rollout_id,
            plugin=plugin,
            version=version,
            occurred_at=now,
            stable_version=rollout.stable_version,
            phases=rollout.phases,
            bake_seconds=rollout.bake_seconds,
        )
        verdicts = await tx.verdicts.for_version(tenant_id, plugin, version)
        events = [requested, *apply_verdicts(rollout, verdicts, now)]
        if not await tx.rollouts.add(rollout):
            # Another request won the race between our check and our insert.
            winner = await tx.rollouts.active_for(tenant_id, plugin)
            raise RolloutAlreadyExistsError(
                tenant_id, plugin, winner.rollout_id if winner else "(concurrent request)"
            )
        await _commit(tx, rollout, events, now, saved=True)
    return rollout


async def get_rollout(uow: UnitOfWorkFactory, tenant_id: str, rollout_id: str) -> Rollout:
    require_tenant_id(tenant_id)
    validate_id("rollout_id", rollout_id)
    async with uow(tenant_id) as tx:
        rollout = await tx.rollouts.get(tenant_id, rollout_id)
    if rollout is None:
        raise RolloutNotFoundError(rollout_id)
    return rollout


# -- reactions to events (the caller's transaction holds the inbox row) --------------


async def record_verdict(tx: RolloutUnitOfWork, verdict: CheckVerdict) -> list[RolloutEvent]:
    """Keeps the verdict, and applies it to the plugin version's rollout if one is under way.

    A verdict that comes before RequestRollout waits in the table until then.
    """
    _require_scope(tx, verdict.tenant_id)
    require_package_name(verdict.plugin, "plugin")
    require_version(verdict.version, "version")
    await tx.rollouts.lock_plugin(verdict.tenant_id, verdict.plugin)
    await tx.verdicts.add(verdict)
    rollout = await tx.rollouts.active_for(verdict.tenant_id, verdict.plugin, lock=True)
    if rollout is None or rollout.version != verdict.version:
        return []
    now = tx.clock.now()
    before = rollout.to_row()
    verdicts = await tx.verdicts.for_version(verdict.tenant_id, verdict.plugin, verdict.version)
    events = apply_verdicts(rollout, verdicts, now)
    if rollout.to_row() != before:
        await _commit(tx, rollout, events, now)
    return events


@dataclass(frozen=True, slots=True)
class SloViolation:
    """What rollout needs from an slo.violated event."""

    tenant_id: str
    plugin: str
    version: str
    slo_id: str
    rule: str
    event_id: str
    detected_at: datetime

    @property
    def reason(self) -> str:
        return f"slo {self.slo_id or '?'} violated: {self.rule or 'burn-rate rule'}"


async def roll_back_on_violation(
    tx: RolloutUnitOfWork, violation: SloViolation
) -> RolloutRolledBack | None:
    """Rolls back the plugin version's canary: traffic to stable first, then compensations.

    Only a canary in progress is rolled back. A violation for a version no user
    is served (finished, rolled back already, or still awaiting its checks)
    changes nothing and returns None: it can only be late or duplicated.
    """
    _require_scope(tx, violation.tenant_id)
    rollout = await tx.rollouts.active_for(violation.tenant_id, violation.plugin, lock=True)
    if (
        rollout is None
        or rollout.version != violation.version
        or rollout.state is not RolloutState.IN_PROGRESS
    ):
        return None
    now = tx.clock.now()
    events = rollout.roll_back(
        violation.reason,
        now,
        cause_event_id=violation.event_id,
        violation_detected_at=violation.detected_at,
    )
    await _commit(tx, rollout, events, now)
    return next((e for e in events if isinstance(e, RolloutRolledBack)), None)


# -- the scheduler's step ------------------------------------------------------------


async def advance_due_rollouts(uow: UnitOfWorkFactory, now: datetime, *, limit: int = 100) -> int:
    """Moves every rollout whose phase has baked by `now` one step; returns how many moved.

    One transaction across all tenants; rows another replica holds are
    skipped, so N schedulers share the work and none advances a rollout twice.
    """
    async with uow(ALL_TENANTS) as tx:
        due = await tx.rollouts.due(now, limit)
        for rollout in due:
            await _commit(tx, rollout, rollout.advance_if_baked(now), now)
    return len(due)


# -- internals -----------------------------------------------------------------------


async def _commit(
    tx: RolloutUnitOfWork,
    rollout: Rollout,
    events: Sequence[RolloutEvent],
    now: datetime,
    *,
    saved: bool = False,
) -> None:
    """Writes the rollout and whatever its events imply, then queues the events.

    The state change is written first: for a rollback that IS the saga's
    first step (traffic to stable), so it is in place before anything else.
    """
    if not saved:
        await tx.rollouts.save(rollout)
    for event in events:
        if isinstance(event, RolloutRolledBack):
            await run_rollback_saga(tx, rollout, now)
        elif isinstance(event, RolloutCompleted):
            await tx.stable_versions.set(
                event.tenant_id, event.plugin, event.version, event.rollout_id, now
            )
    await tx.publish(events)


def _require_scope(tx: RolloutUnitOfWork, tenant_id: str) -> None:
    require_tenant_id(tenant_id)
    if tx.tenant_id not in (tenant_id, ALL_TENANTS):
        raise InvalidRolloutError(
            "tenant_id", f"event for tenant {tenant_id!r} in a transaction of {tx.tenant_id!r}"
        )
