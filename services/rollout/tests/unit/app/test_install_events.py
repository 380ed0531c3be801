"""plugin.install.approved requests the canary, which still waits for both checks."""

from __future__ import annotations

import pytest

from portico.events.v1 import events_pb2 as ev
from portico_common.events.envelope import Envelope
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.entrypoints.install_events import install_handlers
from portico_rollout.errors import RolloutError, RolloutQuotaExceededError
from portico_rollout.testing.world import NO_CONNECTION, RolloutWorld


class FullQuota:
    """A tenant whose concurrent rollouts are all taken."""

    async def reserve_rollout(
        self,
        tenant_id: str,
        rollout_id: str,  # noqa: ARG002 - the port's
        plugin: str,
        version: str,
    ) -> None:
        raise RolloutQuotaExceededError(
            f"concurrent rollouts: 1 wanted, 0 of 0 held ({tenant_id} {plugin}@{version})"
        )

    async def release(self, tenant_id: str, rollout_id: str, reason: str) -> None:
        raise AssertionError(f"nothing was reserved, yet {tenant_id}/{rollout_id}: {reason}")


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


async def test_approval_while_another_rollout_runs_is_declined(
    world: RolloutWorld, installs: Installs
) -> None:
    """An approval for a plugin with a rollout under way is declined (announced), not retried."""
    existing = await world.request()
    await installs.deliver(approved(world, rollout_phases=[100]))
    rollout = await installs.active()
    assert rollout is not None
    assert rollout.rollout_id == existing.rollout_id
    [declined] = world.events(ev.RolloutInstallDeclined)
    assert (declined.tenant_id, declined.request_id, declined.plugin, declined.version) == (
        world.tenant,
        "r1",
        world.plugin,
        world.version,
    )
    assert declined.reason.startswith("rollout not requested: ")
    assert existing.rollout_id in declined.reason
    [(_, subject)] = [
        (e, s) for e, s in world.store.sink.events if isinstance(e, ev.RolloutInstallDeclined)
    ]
    assert subject == "r1"


async def test_approval_with_no_rollout_left_in_the_quota_is_declined(world: RolloutWorld) -> None:
    """The tenant's concurrent rollouts are full: nothing is created, the decline names why."""
    quota = FullQuota()
    handler = install_handlers(world.store.consumer_uow(), world.slo, world.defaults, quota)[
        "plugin.install.approved"
    ]
    envelope = Envelope.of(approved(world), source="tests", tenant_id=world.tenant)
    await handler(envelope, NO_CONNECTION)
    async with world.uow(world.tenant) as tx:
        assert await tx.rollouts.active_for(world.tenant, world.plugin) is None
    [declined] = world.events(ev.RolloutInstallDeclined)
    assert declined.request_id == "r1"
    assert "concurrent rollouts: 1 wanted, 0 of 0 held" in declined.reason
    assert world.events(ev.RolloutRequested) == []


async def test_tenant_mismatch_is_refused(world: RolloutWorld, installs: Installs) -> None:
    """A payload naming another tenant than the header is refused (and so dead-lettered)."""
    with pytest.raises(RolloutError):
        await installs.deliver(approved(world), tenant="globex")
    assert await installs.active() is None
