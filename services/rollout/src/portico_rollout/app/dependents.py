"""The rollback saga after its first step: the installed plugins that need the version go back.

The saga runner takes sagas with a step not done. `find_dependents` asks
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
from portico_rollout.domain.events import RolloutRolledBack
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.saga import (
    FIND_DEPENDENTS,
    ROLLBACK_STEPS,
    SagaStep,
    StepState,
    dependent_of_step,
)
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import RolloutConflictError

log = logging.getLogger(__name__)


@dataclass
class SagaPass:
    """What one pass of the saga runner did."""

    sagas: int = 0
    failed: int = 0


# What security listed for a dependent's stable version: (version, critical advisory ids).
Listed = tuple[str, tuple[str, ...]]


async def advance_sagas(
    uow: UnitOfWorkFactory,
    graph: DependencyGraph | None,
    now: datetime,
    *,
    limit: int = 50,
    advisories: AdvisorySource | None = None,
) -> SagaPass:
    """Runs the pending steps of up to `limit` sagas; one failing never stops the others."""
    async with uow(ALL_TENANTS) as scan:
        pending = await scan.rollback_steps.pending(limit)
    done = SagaPass(sagas=len(pending))
    for tenant_id, rollout_id in pending:
        try:
            await advance_saga(uow, graph, tenant_id, rollout_id, now, advisories=advisories)
        except Exception as exc:  # noqa: BLE001 - compat down or a bad row: retried next pass
            done.failed += 1
            log.warning(
                "rollback saga step failed; retried on the next pass",
                extra={"tenant_id": tenant_id, "rollout_id": rollout_id, "error": str(exc)},
            )
    return done


async def advance_saga(
    uow: UnitOfWorkFactory,
    graph: DependencyGraph | None,
    tenant_id: str,
    rollout_id: str,
    now: datetime,
    *,
    advisories: AdvisorySource | None = None,
) -> None:
    """Runs one rollout's pending steps in order, each in its own transaction."""
    async with uow(tenant_id) as tx:
        rollout = await tx.rollouts.get(tenant_id, rollout_id)
        steps = {s.step: s for s in await tx.rollback_steps.for_rollout(tenant_id, rollout_id)}
        find = steps.get(FIND_DEPENDENTS)
        installed = None
        # Without compat there is no one to ask, so what the tenant runs is not read.
        looking = find is not None and find.state is StepState.PENDING
        if rollout is not None and looking and graph is not None:
            installed = await installed_plugins(tx, tenant_id)
    if rollout is None:
        return
    if looking:
        found = None
        if graph is not None and installed is not None:
            going = InstalledPlugin(rollout.plugin, rollout.version, rollout.stable_version)
            found = await graph.dependents(tenant_id, going, installed)
        if not await _record_dependents(uow, rollout, found, now):
            return
    while await _next_dependent(uow, tenant_id, rollout_id, now, advisories):
        pass


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
    tenant_id: str,
    rollout_id: str,
    now: datetime,
    advisories: AdvisorySource | None,
) -> bool:
    """Rolls back the first dependent whose step is pending; False once none is left."""
    listed: Listed | None = None
    if advisories is not None:
        async with uow(tenant_id) as tx:
            going_back = await _dependent_going_back(tx, tenant_id, rollout_id)
        if going_back is not None and going_back[1]:
            plugin, stable = going_back
            listed = (stable, await advisories.critical(tenant_id, plugin, stable))
    async with uow(tenant_id) as tx:
        parent = await tx.rollouts.lock(tenant_id, rollout_id)
        if parent is None:
            return False
        step = await _pending_dependent(tx, tenant_id, rollout_id)
        if step is None:
            return False
        detail = await _roll_back_dependent(
            tx, parent, step, now, checked=advisories is not None, listed=listed
        )
        await tx.rollback_steps.complete(tenant_id, rollout_id, step.step, detail, now)
    return True


async def _pending_dependent(
    tx: RolloutUnitOfWork, tenant_id: str, rollout_id: str
) -> SagaStep | None:
    return next(
        (
            s
            for s in await tx.rollback_steps.for_rollout(tenant_id, rollout_id)
            if s.state is StepState.PENDING and dependent_of_step(s.step) is not None
        ),
        None,
    )


async def _dependent_going_back(
    tx: RolloutUnitOfWork, tenant_id: str, rollout_id: str
) -> tuple[str, str] | None:
    """(plugin, the version it would go back to) of the next pending dependent; nothing locked."""
    step = await _pending_dependent(tx, tenant_id, rollout_id)
    named = dependent_of_step(step.step) if step is not None else None
    if named is None:
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
