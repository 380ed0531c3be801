"""The in-memory view answers ResolveVersion exactly as the rollout and stable-version rows say.

The reference below is the database path: the tenant's unfinished rollout
and stable version read in a unit of work, the user's bucket hashed with the
rollout's version, and `sticky.resolve`. Every strategy is walked through
its states (awaiting checks, each phase, paused, resumed, promoted, finished)
and at each step a few hundred users must get the same answer from the view.
"""

from __future__ import annotations

import pytest

from portico_rollout.app import controls
from portico_rollout.app.assignments import VersionAnswer
from portico_rollout.app.controls import Control
from portico_rollout.app.handlers import RolloutSpec
from portico_rollout.domain.plan import Strategy
from portico_rollout.domain.state import RolloutState
from portico_rollout.domain.sticky import bucket_for, resolve
from portico_rollout.testing.world import RolloutWorld

STABLE = "2.2.0"
USERS = [f"user-{n}" for n in range(200)]
SPECS = {
    Strategy.CANARY: RolloutSpec(strategy=Strategy.CANARY, bake_seconds=300),
    Strategy.BLUE_GREEN: RolloutSpec(
        strategy=Strategy.BLUE_GREEN, preview_percent=5, bake_seconds=300
    ),
    Strategy.ROLLING: RolloutSpec(strategy=Strategy.ROLLING, batches=4, bake_seconds=300),
    Strategy.INSTANT: RolloutSpec(strategy=Strategy.INSTANT, bake_seconds=300),
}


async def from_tables(world: RolloutWorld, user_id: str) -> VersionAnswer:
    """What the database path answers: the rows read now, the bucket keyed by the version."""
    async with world.uow(world.tenant) as tx:
        rollout = await tx.rollouts.active_for(world.tenant, world.plugin)
        stable = (
            rollout.stable_version
            if rollout is not None
            else await tx.stable_versions.get(world.tenant, world.plugin)
        )
    bucket = bucket_for(world.tenant, world.plugin, rollout.version if rollout else "", user_id)
    answer = resolve(rollout, stable, bucket)
    return VersionAnswer(
        version=answer.version,
        stable_version=stable,
        rollout_id=rollout.rollout_id if rollout is not None else "",
        bucket=bucket,
        in_canary=answer.in_canary,
        percent=answer.percent,
    )


async def assert_agree(world: RolloutWorld) -> list[VersionAnswer]:
    """Every user gets the same answer from the view as from the tables; returns the answers."""
    answers = []
    for user in USERS:
        seen = await world.resolve(user)
        assert seen == await from_tables(world, user), user
        answers.append(seen)
    return answers


def control(world: RolloutWorld, rollout_id: str) -> Control:
    return Control(world.tenant, rollout_id, "ops@acme", "checking")


async def with_stable(world: RolloutWorld) -> None:
    async with world.uow(world.tenant) as tx:
        await tx.stable_versions.set(world.tenant, world.plugin, STABLE, "ro-0", world.clock.now())


@pytest.mark.parametrize("strategy", list(SPECS))
async def test_the_view_answers_as_the_tables_through_every_phase(
    world: RolloutWorld, strategy: Strategy
) -> None:
    """Requested, each phase, paused, resumed and completed: the view and the rows agree."""
    await with_stable(world)
    await assert_agree(world)
    rollout = await world.request(spec=SPECS[strategy])
    await assert_agree(world)
    await world.verdict("security", True)
    await world.verdict("compat", True)
    await assert_agree(world)
    await controls.pause(world.uow, control(world, rollout.rollout_id))
    paused = await assert_agree(world)
    view = world.view.get(world.tenant, world.plugin)
    assert view is not None
    assert view.state is RolloutState.PAUSED
    await controls.resume(world.uow, control(world, rollout.rollout_id))
    assert await assert_agree(world) == paused
    view = world.view.get(world.tenant, world.plugin)
    assert view is not None
    assert view.state is RolloutState.IN_PROGRESS
    for _ in range(len(SPECS[strategy].phases_for(world.defaults))):
        await world.tick(seconds=300)
        await assert_agree(world)
    assert (await world.get(rollout.rollout_id)).state is RolloutState.COMPLETED
    assert {a.version for a in await assert_agree(world)} == {"2.3.0"}


async def test_the_view_follows_promote_and_abort_as_the_tables_do(world: RolloutWorld) -> None:
    """An operator's promote grows the share and abort ends it; the view agrees after each."""
    await with_stable(world)
    rollout = await world.started(bake_seconds=300)
    assert {a.percent for a in await assert_agree(world)} == {10}
    await controls.promote(world.uow, control(world, rollout.rollout_id), full=False)
    assert {a.percent for a in await assert_agree(world)} == {25}
    await controls.abort(world.uow, control(world, rollout.rollout_id))
    assert {a.version for a in await assert_agree(world)} == {STABLE}


async def test_each_release_has_its_own_cohort_in_the_view(world: RolloutWorld) -> None:
    """Through the view as through the tables, the next release's canary is other users."""
    await with_stable(world)
    first = await world.started(bake_seconds=300)
    cohort = {u for u, a in zip(USERS, await assert_agree(world), strict=True) if a.in_canary}
    await controls.abort(world.uow, control(world, first.rollout_id))
    await world.request(version="2.4.0", bake_seconds=300)
    await world.verdict("security", True, version="2.4.0")
    await world.verdict("compat", True, version="2.4.0")
    answers = await assert_agree(world)
    again = {u for u, a in zip(USERS, answers, strict=True) if a.in_canary}
    assert {a.version for a in answers if a.in_canary} == {"2.4.0"}
    assert cohort
    assert again
    assert cohort != again
