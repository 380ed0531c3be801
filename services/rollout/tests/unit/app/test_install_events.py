"""plugin.install.approved requests the canary, which still waits for both checks."""

from __future__ import annotations

import pytest

from portico.events.v1 import events_pb2 as ev
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import RolloutError
from portico_rollout.testing.world import RolloutWorld


class Installs:
    """Install approvals delivered to the handler the service subscribes (bake default 300 s)."""

    def __init__(self, world: RolloutWorld) -> None:
        self.world = world

    async def deliver(self, payload: ev.InstallApproved, tenant: str = "acme") -> None:
        await self.world.deliver(payload, tenant=tenant)

    async def active(self, tenant: str = "acme") -> Rollout | None:
        async with self.world.uow(tenant) as tx:
            return await tx.rollouts.active_for(tenant, self.world.plugin)


@pytest.fixture
def installs(world: RolloutWorld) -> Installs:
    return Installs(world)


def approved(world: RolloutWorld, **kw: object) -> ev.InstallApproved:
    return ev.InstallApproved(
        tenant_id=world.tenant, plugin=world.plugin, version=world.version, request_id="r1", **kw
    )


async def test_approved_install_requests_a_rollout_awaiting_checks(
    world: RolloutWorld, installs: Installs
) -> None:
    """The approval creates the rollout with the install's phases and bake time, awaiting checks."""
    await installs.deliver(approved(world, rollout_phases=[50, 100], rollout_bake_seconds=5))
    rollout = await installs.active()
    assert rollout is not None
    assert rollout.state is RolloutState.AWAITING_CHECKS
    assert rollout.phases == (50, 100)
    assert rollout.bake_seconds == 5


async def test_verdicts_recorded_before_the_approval_start_it_at_once(
    world: RolloutWorld, installs: Installs
) -> None:
    """Security's and compat's passes that arrived first count when the approval comes."""
    await world.verdict("security", passed=True)
    await world.verdict("compat", passed=True)
    await installs.deliver(approved(world))
    rollout = await installs.active()
    assert rollout is not None
    assert rollout.state is RolloutState.IN_PROGRESS
    assert rollout.bake_seconds == 300


async def test_approval_while_another_rollout_runs_changes_nothing(
    world: RolloutWorld, installs: Installs
) -> None:
    """An approval for a plugin with a rollout under way is logged, not retried forever."""
    existing = await world.request()
    await installs.deliver(approved(world, rollout_phases=[100]))
    rollout = await installs.active()
    assert rollout is not None
    assert rollout.rollout_id == existing.rollout_id


async def test_tenant_mismatch_is_refused(world: RolloutWorld, installs: Installs) -> None:
    """A payload naming another tenant than the header is refused (and so dead-lettered)."""
    with pytest.raises(RolloutError):
        await installs.deliver(approved(world), tenant="globex")
    assert await installs.active() is None
