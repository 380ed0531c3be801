"""The rollback saga's first step, inside the transaction of the rollback decision.

The steps' rows are written when the saga starts (pending); traffic to the
stable version is the rolled-back state itself, saved just before in the same
transaction, so that step is done at once. The rest (the dependents) needs
compat and runs afterwards, step by step (`app.dependents`). A step already
done is skipped, so running the saga twice for one rollout does each thing once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from portico_rollout.app.ports import RolloutUnitOfWork
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.saga import ROLLBACK_STEPS, TRAFFIC_TO_STABLE, SagaStep, StepState
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import InvalidTransitionError


def _traffic_to_stable(rollout: Rollout) -> str:
    # The rolled-back state IS the routing decision (ResolveVersion reads it),
    # and it was saved just before this step in the same transaction.
    if rollout.percent != 0:  # pragma: no cover - guarded by run_rollback_saga
        raise InvalidTransitionError(rollout.rollout_id, rollout.state.value, "traffic at 0%")
    target = rollout.stable_version or "no version (none was stable)"
    return f"0% on {rollout.version}; everyone on {target}"


async def run_rollback_saga(
    tx: RolloutUnitOfWork, rollout: Rollout, now: datetime
) -> list[SagaStep]:
    """Starts the saga and does its first step; returns the steps as they end up."""
    if rollout.state is not RolloutState.ROLLED_BACK:
        raise InvalidTransitionError(
            rollout.rollout_id, rollout.state.value, "rollback saga (needs ROLLED_BACK)"
        )
    steps = await tx.rollback_steps.start(
        rollout.tenant_id, rollout.rollout_id, ROLLBACK_STEPS, now
    )
    ended = []
    for step in steps:
        if step.step == TRAFFIC_TO_STABLE and step.state is StepState.PENDING:
            detail = _traffic_to_stable(rollout)
            await tx.rollback_steps.complete(
                rollout.tenant_id, rollout.rollout_id, step.step, detail, now
            )
            # This transaction holds the rollout: the step is as just written.
            ended.append(replace(step, state=StepState.DONE, detail=detail, at=now))
        else:
            ended.append(step)
    return ended
