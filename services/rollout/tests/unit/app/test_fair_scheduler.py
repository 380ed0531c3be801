"""The scheduler per tenant: a failing rollout never blocks another's, and no tenant crowds out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from portico_rollout.adapters.slo_memory import MemorySlo
from portico_rollout.app.evaluation import SchedulerLimits, evaluate_due_rollouts
from portico_rollout.domain.evidence import VersionOutcomes
from portico_rollout.errors import SloUnavailableError
from portico_rollout.testing.world import RolloutWorld


class BrokenFor(MemorySlo):
    """An slo that cannot answer for one tenant's outcomes."""

    def __init__(self, tenant: str) -> None:
        super().__init__()
        self.broken = tenant

    async def outcomes(
        self,
        tenant_id: str,
        plugin: str,
        versions: Sequence[str],
        *,
        start: datetime,
        end: datetime,
        step_seconds: int,
    ) -> list[VersionOutcomes]:
        if tenant_id == self.broken:
            raise SloUnavailableError("report outcomes", f"{tenant_id} is broken")
        return await super().outcomes(
            tenant_id, plugin, versions, start=start, end=end, step_seconds=step_seconds
        )


async def start(world: RolloutWorld, tenant: str, plugin: str) -> str:
    rollout = await world.request(tenant=tenant, plugin=plugin, bake_seconds=600)
    await world.verdict("security", True, tenant=tenant, plugin=plugin)
    await world.verdict("compat", True, tenant=tenant, plugin=plugin)
    return rollout.rollout_id


async def test_a_tenant_whose_evaluation_fails_does_not_block_another(
    world: RolloutWorld,
) -> None:
    """bad's rollout fails and is put off; good's, due at the same moment, advances in that pass."""
    world.slo = BrokenFor("bad")
    bad = await start(world, "bad", "left-pad")
    good = await start(world, "good", "left-pad")
    done = await world.pass_(seconds=600)
    assert (done.due, done.failed) == (2, 1)
    assert (await world.get(good, tenant="good")).percent == 25
    assert (await world.get(bad, tenant="bad")).percent == 10
    # Put off for retry_seconds: the next pass before then does not retry it.
    done = await world.pass_(seconds=5)
    assert done.due == 0
    done = await world.pass_(seconds=5)
    assert (done.due, done.failed) == (1, 1)


async def test_the_broken_rollout_goes_on_once_slo_answers(world: RolloutWorld) -> None:
    """When the tenant's outcomes can be read again its rollout is judged on the next retry."""
    broken = BrokenFor("bad")
    world.slo = broken
    bad = await start(world, "bad", "left-pad")
    await world.pass_(seconds=600)
    broken.broken = ""
    await world.pass_(seconds=10)
    assert (await world.get(bad, tenant="bad")).percent == 25


async def test_a_busy_tenant_cannot_fill_a_pass(world: RolloutWorld) -> None:
    """With per_tenant 2 and batch 3, a pass takes two of busy's five and calm's one."""
    for n in range(5):
        await start(world, "busy", f"p{n}")
    calm = await start(world, "calm", "left-pad")
    world.clock.advance(seconds=600)
    limits = SchedulerLimits(batch=3, per_tenant=2)
    for rollout in world.store.state.rollouts.values():
        world.slo.steady(rollout.tenant_id, rollout.plugin, rollout.version)
    done = await evaluate_due_rollouts(world.uow, world.slo, world.clock.now(), limits=limits)
    assert (done.due, done.failed) == (3, 0)
    assert (await world.get(calm, tenant="calm")).percent == 25
    moved = [
        r for r in world.store.state.rollouts.values() if r.tenant_id == "busy" and r.percent == 25
    ]
    assert len(moved) == 2
