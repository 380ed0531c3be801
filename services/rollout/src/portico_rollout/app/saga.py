"""The rollback saga: traffic back to the stable version, then compensations.

Each step's row is written when the saga starts (pending) and again when the
step is done, inside the caller's transaction; a step already done is skipped,
so running the saga twice for one rollout does each thing once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from portico_rollout.app.ports import RolloutUnitOfWork
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.saga import (
    COMPENSATE_DEPENDENTS,
    ROLLBACK_STEPS,
    TRAFFIC_TO_STABLE,
    SagaStep,
    StepState,
)
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import InvalidTransitionError

Step = Callable[[RolloutUnitOfWork, Rollout], Awaitable[str]]


async def _traffic_to_stable(_tx: RolloutUnitOfWork, rollout: Rollout) -> str:
    # The rolled-back state IS the routing decision (ResolveVersion reads it),
    # and it was saved just before this step in the same transaction.
    if rollout.percent != 0:  # pragma: no cover - guarded by run_rollback_saga
        raise InvalidTransitionError(rollout.rollout_id, rollout.state.value, "traffic at 0%")
    target = rollout.stable_version or "no version (none was stable)"
    return f"0% on {rollout.version}; everyone on {target}"


async def _compensate_dependents(_tx: RolloutUnitOfWork, rollout: Rollout) -> str:
    # Portico does not track which plugins depend on which yet, so there is
    # nothing to undo; the step still runs and is recorded, so a later version
    # that compensates real dependents slots in without changing the saga.
    return (
        f"no dependents of {rollout.plugin}@{rollout.version} to compensate"
        " (the dependency graph is not tracked yet)"
    )


STEPS: dict[str, Step] = {
    TRAFFIC_TO_STABLE: _traffic_to_stable,
    COMPENSATE_DEPENDENTS: _compensate_dependents,
}


async def run_rollback_saga(
    tx: RolloutUnitOfWork, rollout: Rollout, now: datetime
) -> list[SagaStep]:
    """Runs every step not done yet, in order; returns the steps as they end up."""
    if rollout.state is not RolloutState.ROLLED_BACK:
        raise InvalidTransitionError(
            rollout.rollout_id, rollout.state.value, "rollback saga (needs ROLLED_BACK)"
        )
    steps = await tx.rollback_steps.start(
        rollout.tenant_id, rollout.rollout_id, ROLLBACK_STEPS, now
    )
    for step in steps:
        if step.state is StepState.DONE:
            continue
        detail = await STEPS[step.step](tx, rollout)
        await tx.rollback_steps.complete(
            rollout.tenant_id, rollout.rollout_id, step.step, detail, now
        )
    return await tx.rollback_steps.for_rollout(rollout.tenant_id, rollout.rollout_id)
