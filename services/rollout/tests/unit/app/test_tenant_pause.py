"""A suspended or deleting tenant's rollouts pause; they go on once it is active again."""

from __future__ import annotations

from portico.events.v1 import events_pb2 as ev
from portico_rollout.domain.state import RolloutState
from portico_rollout.testing.world import RolloutWorld


async def test_a_suspended_tenants_rollout_does_not_advance_until_resumed(
    world: RolloutWorld,
) -> None:
    """tenant.suspended holds the rollout's phase; tenant.resumed lets the next tick move it."""
    rollout = await world.started(bake_seconds=600)
    await world.deliver(ev.TenantSuspended(tenant_id=world.tenant, state="suspended", reason="x"))
    assert await world.tick(seconds=3600) == 0
    held = await world.get(rollout.rollout_id)
    assert held.phase_index == rollout.phase_index
    assert held.state is RolloutState.IN_PROGRESS
    await world.deliver(ev.TenantResumed(tenant_id=world.tenant, state="active"))
    assert await world.tick() == 1
    assert (await world.get(rollout.rollout_id)).phase_index == rollout.phase_index + 1


async def test_a_cancelled_deletion_keeps_a_suspended_tenant_paused(world: RolloutWorld) -> None:
    """Deleting pauses; cancelling back to suspended stays paused, back to active goes on."""
    rollout = await world.started(bake_seconds=600)
    await world.deliver(ev.TenantDeletionScheduled(tenant_id=world.tenant, state="deleting"))
    assert await world.tick(seconds=3600) == 0
    await world.deliver(ev.TenantDeletionCancelled(tenant_id=world.tenant, state="suspended"))
    assert await world.tick(seconds=60) == 0
    await world.deliver(ev.TenantDeletionCancelled(tenant_id=world.tenant, state="active"))
    assert await world.tick() == 1
    assert (await world.get(rollout.rollout_id)).phase_index == rollout.phase_index + 1


async def test_another_tenants_rollouts_go_on(world: RolloutWorld) -> None:
    """Pausing one tenant never holds another's rollouts."""
    await world.started(bake_seconds=600)
    await world.deliver(
        ev.TenantSuspended(tenant_id="other", state="suspended", reason="x"), tenant="other"
    )
    assert await world.tick(seconds=3600) == 1
