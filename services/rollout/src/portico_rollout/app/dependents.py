"""The rollback saga after its first step: the installed plugins that need the version go back.

The saga runner takes sagas whose next step is due. `find_dependents` asks
compat's dependency graph (outside any transaction) which installed plugins
need the rolled-back version, then records one step per dependent in the
order compat gives (a plugin before the plugins it needs). Each dependent
step rolls that plugin's rollout back in a transaction of its own: the
dependent's rollout emits its own rollout.rolled_back (naming the rollout
that took it along) and starts its own saga. Every step is done once: the
rolled-back rollout's row is locked while a step runs (another replica
skips it) and a step done is never run again.

Before a dependent goes back, security's advisories for the version it
would go back to are read (outside any transaction): onto a version with a
critical advisory its rollback is held and asked for instead (the step is
done, saying so), a serving rollout paused and a completed one left serving.

A step that fails (compat or security unreachable, the dependent changed
since its advisories were read, a database error) stays pending and backs
off: its failed attempts, the time of its next attempt and the error are
stored on its row (`SagaLimits.retry_delay`), so no pass, replica or restart
tries it again before then. A pass takes a bounded number of sagas, a few of
each tenant, and a bounded number of steps of each (`SagaLimits`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from portico_common.tenants import ALL_TENANTS
from portico_rollout.app.handlers import commit, completed_stable
from portico_rollout.app.ports import (
    AdvisorySource,
    DependencyGraph,
    FoundDependents,
    InstalledPlugin,
    RolloutUnitOfWork,
    UnitOfWorkFactory,
)
from portico_rollout.app.saga_limits import SagaLimits
from portico_rollout.domain.events import RolloutRolledBack
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.saga import (
    FIND_DEPENDENTS,
    ROLLBACK_STEPS,
    SagaStep,
    StepState,
    dependent_of_step,
    saga_head,
)
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import InvalidRolloutError, RolloutConflictError

log = logging.getLogger(__name__)

# A failure's text is stored on the step's row; this much of it is enough to act on.
ERROR_CHARS = 500


@dataclass
class SagaPass:
    """What one pass of the saga runner did."""

    # Sagas taken, steps moved past, and sagas whose step failed (backing off now).
    sagas: int = 0
    steps: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class SagaAdvance:
    """What one saga's turn in a pass did: steps moved past, and the step that failed."""

    steps: int
    failed: SagaStep | None = None


# What security listed for a dependent's stable version: (version, critical advisory ids).
Listed = tuple[str, tuple[str, ...]]


async def advance_sagas(
    uow: UnitOfWorkFactory,
    graph: DependencyGraph | None,
    now: datetime,
    *,
    limits: SagaLimits | None = None,
    advisories: AdvisorySource | None = None,
) -> SagaPass:
    """One pass: the due steps of up to `limits.batch` sagas; one failing never stops the others."""
    limits = limits or SagaLimits()
    async with uow(ALL_TENANTS) as scan:
        due = await scan.rollback_steps.due(now, limits.batch, limits.per_tenant)
    done = SagaPass(sagas=len(due))
    for tenant_id, rollout_id in due:
        try:
            advanced = await advance_saga(
                uow, graph, tenant_id, rollout_id, now, limits=limits, advisories=advisories
            )
        except Exception as exc:  # noqa: BLE001 - the database down or a bad row: next pass
            done.failed += 1
            log.warning(
                "rollback saga could not be read, or its step's failure not stored;"
                " tried again on the next pass",
                extra={"tenant_id": tenant_id, "rollout_id": rollout_id, "error": str(exc)},
            )
            continue
        done.steps += advanced.steps
        done.failed += advanced.failed is not None
    return done


async def advance_saga(
    uow: UnitOfWorkFactory,
    graph: DependencyGraph | None,
    tenant_id: str,
    rollout_id: str,
    now: datetime,
    *,
    limits: SagaLimits | None = None,
    advisories: AdvisorySource | None = None,
) -> SagaAdvance:
    """Runs one rollout's due steps in order, each in its own transaction, up to the limit.

    A step that raises is recorded as failed with the time of its next
    attempt, and the saga's turn ends there.
    """
    limits = limits or SagaLimits()
    moved = 0
    while moved < limits.steps_per_saga:
        async with uow(tenant_id) as tx:
            rollout = await tx.rollouts.get(tenant_id, rollout_id)
            head = saga_head(await tx.rollback_steps.for_rollout(tenant_id, rollout_id))
            installed = None
            # Without compat there is no one to ask, so what the tenant runs is not read.
            finding = head is not None and head.step == FIND_DEPENDENTS
            if rollout is not None and finding and graph is not None:
                installed = await installed_plugins(tx, tenant_id)
        # Another replica may have recorded a failure since this pass listed the saga.
        if rollout is None or head is None or not head.due(now):
            break
        try:
            ran = await _run_step(
                uow, rollout, head, now, graph=graph, installed=installed, advisories=advisories
            )
            if not ran:
                break  # another replica runs this saga now
        except Exception as exc:  # noqa: BLE001 - any failure of a step is retried after a backoff
            await _back_off(uow, head, exc, limits)
            return SagaAdvance(moved, failed=head)
        moved += 1
    return SagaAdvance(moved)


async def _run_step(
    uow: UnitOfWorkFactory,
    rollout: Rollout,
    head: SagaStep,
    now: datetime,
    *,
    graph: DependencyGraph | None,
    installed: list[InstalledPlugin] | None,
    advisories: AdvisorySource | None,
) -> bool:
    """Runs the saga's next step; False if another replica holds the saga."""
    if head.step == FIND_DEPENDENTS:
        found = None
        if graph is not None and installed is not None:
            going = InstalledPlugin(rollout.plugin, rollout.version, rollout.stable_version)
            found = await graph.dependents(rollout.tenant_id, going, installed)
        return await _record_dependents(uow, rollout, found, now)
    if dependent_of_step(head.step) is not None:
        return await _next_dependent(uow, rollout, head, now, advisories)
    # traffic_to_stable is done in the decision's own transaction; nothing here can do it.
    raise InvalidRolloutError("saga step", f"{head.step!r} is not one the saga runner runs")


async def _back_off(
    uow: UnitOfWorkFactory, step: SagaStep, exc: Exception, limits: SagaLimits
) -> None:
    """Stores the step's failure and when to try it again (counted from the failure)."""
    failed_attempts = step.failed_attempts + 1
    error = (f"{type(exc).__name__}: {exc}")[:ERROR_CHARS]
    async with uow(step.tenant_id) as tx:
        next_attempt_at = tx.clock.now() + limits.retry_delay(failed_attempts)
        recorded = await tx.rollback_steps.record_failure(
            step.tenant_id,
            step.rollout_id,
            step.step,
            failed_attempts=failed_attempts,
            next_attempt_at=next_attempt_at,
            error=error,
        )
    log.warning(
        "rollback saga step failed; backing off",
        extra={
            "tenant_id": step.tenant_id,
            "rollout_id": step.rollout_id,
            "step": step.step,
            "failed_attempts": failed_attempts,
            # Not recorded: another replica recorded this failure, or the step got done.
            "next_attempt_at": next_attempt_at.isoformat() if recorded else "",
            "error": error,
        },
    )


async def installed_plugins(tx: RolloutUnitOfWork, tenant_id: str) -> list[InstalledPlugin]:
    """What the tenant runs: each plugin's stable version, or the version its rollout serves.

    The previous version is what a rollback would put back: a serving or a
    completed rollout's stable version; unknown ("") for the rest.
    """
    found: dict[str, InstalledPlugin] = {}
    for plugin, version in (await tx.stable_versions.all(tenant_id)).items():
        if not version:
            continue
        previous = ""
        made = await tx.stable_versions.made_by(tenant_id, plugin)
        if made is not None and made[0] == version:
            by = await tx.rollouts.get(tenant_id, made[1])
            if by is not None and by.state is RolloutState.COMPLETED and by.version == version:
                previous = by.stable_version
        found[plugin] = InstalledPlugin(plugin, version, previous)
    for plugin, version, stable in await tx.rollouts.serving(tenant_id):
        found[plugin] = InstalledPlugin(plugin, version, stable)
    return [found[p] for p in sorted(found)]


async def _record_dependents(
    uow: UnitOfWorkFactory, rollout: Rollout, found: FoundDependents | None, now: datetime
) -> bool:
    """Records the dependents as steps and the find step as done; False if another has it."""
    tenant_id, rollout_id = rollout.tenant_id, rollout.rollout_id
    async with uow(tenant_id) as tx:
        if await tx.rollouts.lock(tenant_id, rollout_id) is None:
            return False  # another replica runs this saga now
        steps = {s.step: s for s in await tx.rollback_steps.for_rollout(tenant_id, rollout_id)}
        if steps[FIND_DEPENDENTS].state is StepState.DONE:
            return True
        dependents = found.dependents if found is not None else ()
        await tx.rollback_steps.start(
            tenant_id, rollout_id, (*ROLLBACK_STEPS, *(d.step for d in dependents)), now
        )
        await tx.rollback_steps.complete(
            tenant_id, rollout_id, FIND_DEPENDENTS, _found_detail(rollout, found), now
        )
    return True


def _found_detail(rollout: Rollout, found: FoundDependents | None) -> str:
    going = f"{rollout.plugin}@{rollout.version}"
    if found is None:
        return (
            f"not checked: rollout has no dependency graph (PORTICO_ROLLOUT_COMPAT_TARGET is"
            f" empty), so no plugin that needs {going} was looked for"
        )
    listed = (
        ", ".join(f"{d.plugin}@{d.version} (needs {d.needs})" for d in found.dependents) or "none"
    )
    detail = f"plugins that need {going}, in rollback order: {listed}"
    if found.unknown:
        detail += f"; unknown to the dependency graph: {', '.join(found.unknown)}"
    return detail


async def _next_dependent(
    uow: UnitOfWorkFactory,
    parent: Rollout,
    step: SagaStep,
    now: datetime,
    advisories: AdvisorySource | None,
) -> bool:
    """Rolls back the dependent of the saga's next step; False if another replica holds it."""
    tenant_id, rollout_id = parent.tenant_id, parent.rollout_id
    listed: Listed | None = None
    if advisories is not None:
        async with uow(tenant_id) as tx:
            going_back = await _dependent_going_back(tx, tenant_id, step)
        if going_back is not None and going_back[1]:
            plugin, stable = going_back
            listed = (stable, await advisories.critical(tenant_id, plugin, stable))
    async with uow(tenant_id) as tx:
        locked = await tx.rollouts.lock(tenant_id, rollout_id)
        if locked is None:
            return False
        current = saga_head(await tx.rollback_steps.for_rollout(tenant_id, rollout_id))
        if current is None or current.step != step.step:
            return True  # another replica took this step meanwhile
        detail = await _roll_back_dependent(
            tx, locked, step, now, checked=advisories is not None, listed=listed
        )
        await tx.rollback_steps.complete(tenant_id, rollout_id, step.step, detail, now)
    return True


async def _dependent_going_back(
    tx: RolloutUnitOfWork, tenant_id: str, step: SagaStep
) -> tuple[str, str] | None:
    """(plugin, the version it would go back to) of a dependent's step; nothing locked."""
    named = dependent_of_step(step.step)
    if named is None:  # pragma: no cover - filtered by the caller
        return None
    plugin, version = named
    target = await tx.rollouts.active_for(tenant_id, plugin)
    if target is not None and target.version == version and target.state.serves:
        return plugin, target.stable_version
    made = await tx.stable_versions.made_by(tenant_id, plugin)
    if made is None or made[0] != version:
        return None
    completed = await tx.rollouts.get(tenant_id, made[1])
    return (plugin, completed.stable_version) if completed is not None else None


async def _roll_back_dependent(
    tx: RolloutUnitOfWork,
    parent: Rollout,
    step: SagaStep,
    now: datetime,
    *,
    checked: bool,
    listed: Listed | None,
) -> str:
    """Rolls back the dependent's rollout that serves its version; says what happened.

    With advisories `checked`, `listed` is what security listed for the version
    the dependent goes back to; if that version changed since, the step fails
    and is run again (and the advisories read again) on a later pass.
    """
    named = dependent_of_step(step.step)
    if named is None:  # pragma: no cover - filtered by the caller
        return "not a dependent step"
    plugin, version = named
    tenant_id = parent.tenant_id
    await tx.rollouts.lock_plugin(tenant_id, plugin)
    target = await tx.rollouts.active_for(tenant_id, plugin, lock=True)
    if target is None or target.version != version or not target.state.serves:
        target = await completed_stable(tx, tenant_id, plugin, version)
    if target is None:
        return (
            f"{plugin}@{version} not rolled back: no rollout of it serves users or made it"
            " the stable version"
        )
    if checked and target.stable_version:
        if listed is None or listed[0] != target.stable_version:
            raise RolloutConflictError(target.rollout_id, target.revision)
        target.note_stable_advisories(listed[1], now)
    needs = f"{parent.plugin}@{parent.version}"
    events = target.roll_back_as_dependent(needs, parent.rollout_id, now)
    await commit(tx, target, events, now)
    back_to = target.stable_version or "no version"
    if not any(isinstance(e, RolloutRolledBack) for e in events) and target.rollback_held:
        return (
            f"{plugin}@{version} not rolled back: going back to {back_to} is held (critical"
            f" advisories {', '.join(target.stable_advisories)}); abort rollout"
            f" {target.rollout_id} to roll it back anyway"
        )
    return f"{plugin}@{version} rolled back to {back_to} (rollout {target.rollout_id})"
