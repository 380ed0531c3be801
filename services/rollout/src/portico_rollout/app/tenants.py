"""What rollout does with a tenant's state: pause its rollouts while it is refused."""

from __future__ import annotations

from datetime import datetime

from portico_common.tenants import require_tenant_id
from portico_rollout.app.ports import RolloutUnitOfWork

# The tenant states in which a tenant's rollouts do not advance.
PAUSING_STATES = frozenset({"suspended", "deleting", "deleted"})


async def set_tenant_state(
    tx: RolloutUnitOfWork, tenant_id: str, state: str, now: datetime
) -> bool:
    """Pauses or unpauses the tenant's rollouts for `state`; True when now paused."""
    require_tenant_id(tenant_id)
    if state in PAUSING_STATES:
        await tx.paused_tenants.pause(tenant_id, state, now)
        return True
    await tx.paused_tenants.unpause(tenant_id)
    return False
