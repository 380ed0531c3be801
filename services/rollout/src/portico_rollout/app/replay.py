"""ReplayRollout: a rollout's decisions judged again under other criteria, read-only."""

from __future__ import annotations

from collections.abc import Mapping

from portico_common.tenants import require_tenant_id
from portico_rollout.app.ports import UnitOfWorkFactory
from portico_rollout.domain.criteria import Criteria
from portico_rollout.domain.naming import validate_id
from portico_rollout.domain.replay import ReplayResult, replay
from portico_rollout.errors import RolloutNotFoundError


async def replay_rollout(
    uow: UnitOfWorkFactory,
    tenant_id: str,
    rollout_id: str,
    *,
    criteria: Criteria | None = None,
    phase_criteria: Mapping[int, Criteria] | None = None,
    hold_timeout_seconds: int = 0,
) -> ReplayResult:
    """Reads the rollout's stored decisions and replays them; writes nothing."""
    require_tenant_id(tenant_id)
    validate_id("rollout_id", rollout_id)
    async with uow(tenant_id) as tx:
        rollout = await tx.rollouts.get(tenant_id, rollout_id)
        if rollout is None:
            raise RolloutNotFoundError(rollout_id)
        decisions = await tx.decisions.for_rollout(tenant_id, rollout_id)
    return replay(
        decisions,
        criteria=criteria,
        phase_criteria=phase_criteria,
        hold_timeout_seconds=hold_timeout_seconds,
    )
