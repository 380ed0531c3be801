"""Strategies as plans: canary, blue-green, rolling and instant, each run by the same machine."""

from __future__ import annotations

import pytest

from portico.events.v1 import events_pb2 as ev
from portico_common.errors import InvalidArgumentError
from portico_rollout.app.handlers import RolloutSpec
from portico_rollout.domain.criteria import Criteria
from portico_rollout.domain.plan import Strategy, plan_for
from portico_rollout.domain.state import RolloutState
from portico_rollout.testing.world import RolloutWorld

STABLE = "2.2.0"


async def with_stable(world: RolloutWorld) -> None:
    async with world.uow(world.tenant) as tx:
        await tx.stable_versions.set(world.tenant, world.plugin, STABLE, "ro-0", world.clock.now())


async def start(world: RolloutWorld, spec: RolloutSpec) -> str:
    rollout = await world.request(spec=spec)
    await world.verdict("security", True)
    await world.verdict("compat", True)
    return rollout.rollout_id


async def seen_by(world: RolloutWorld, users: int = 200) -> set[str]:
    """The versions `users` users resolve to right now."""
    return {(await world.resolve(f"u{n}")).version for n in range(users)}


def percents(strategy: Strategy, **options: int) -> list[int]:
    plan = plan_for(strategy, bake_seconds=60, criteria=Criteria(), **options)
    return [p.percent for p in plan]


def test_each_strategy_makes_its_plan() -> None:
    """canary 10/25/50/100, blue-green preview then 100, rolling equal batches, instant 100."""
    assert percents(Strategy.CANARY) == [10, 25, 50, 100]
    assert percents(Strategy.CANARY, phases=(1, 100)) == [1, 100]
    assert percents(Strategy.BLUE_GREEN) == [5, 100]
    assert percents(Strategy.BLUE_GREEN, preview_percent=20) == [20, 100]
    assert percents(Strategy.ROLLING) == [25, 50, 75, 100]
    assert percents(Strategy.ROLLING, batches=3) == [33, 67, 100]
    assert percents(Strategy.INSTANT) == [100]


def test_the_switch_is_watched_for_its_own_window() -> None:
    """Blue-green's and instant's 100% phase lasts watch_seconds (bake when unset)."""
    plan = plan_for(Strategy.BLUE_GREEN, bake_seconds=60, criteria=Criteria(), watch_seconds=900)
    assert [p.bake_seconds for p in plan] == [60, 900]
    instant = plan_for(Strategy.INSTANT, bake_seconds=60, criteria=Criteria())
    assert [p.bake_seconds for p in instant] == [60]


@pytest.mark.parametrize(
    ("strategy", "options"),
    [
        (Strategy.BLUE_GREEN, {"preview_percent": 100}),
        (Strategy.ROLLING, {"batches": 101}),
    ],
)
def test_impossible_options_are_refused(strategy: Strategy, options: dict[str, int]) -> None:
    """A 100% preview or more batches than percents is INVALID_ARGUMENT."""
    with pytest.raises(InvalidArgumentError):
        plan_for(strategy, bake_seconds=60, criteria=Criteria(), **options)


async def test_blue_green_switches_everyone_at_once_after_the_preview(
    world: RolloutWorld,
) -> None:
    """The preview cohort is judged, then all users move together; stable is kept until done."""
    await with_stable(world)
    spec = RolloutSpec(
        strategy=Strategy.BLUE_GREEN, preview_percent=5, bake_seconds=300, watch_seconds=900
    )
    rollout_id = await start(world, spec)
    assert await seen_by(world) == {STABLE, "2.3.0"}
    await world.tick(seconds=300)
    assert await seen_by(world) == {"2.3.0"}
    switched = await world.get(rollout_id)
    assert (switched.percent, switched.state) == (100, RolloutState.IN_PROGRESS)
    # The old version stays the stable one, warm, for the whole watch window.
    answer = await world.resolve("u1")
    assert answer.stable_version == STABLE
    await world.tick(seconds=899)
    assert (await world.get(rollout_id)).state is RolloutState.IN_PROGRESS
    await world.tick(seconds=1)
    assert (await world.get(rollout_id)).state is RolloutState.COMPLETED


async def test_blue_green_rolls_back_to_the_warm_version_in_its_window(
    world: RolloutWorld,
) -> None:
    """A violation during the watch window sends every user back to the old version at once."""
    await with_stable(world)
    spec = RolloutSpec(strategy=Strategy.BLUE_GREEN, bake_seconds=300, watch_seconds=900)
    rollout_id = await start(world, spec)
    await world.tick(seconds=300)
    await world.tick(seconds=600)
    assert await world.violation() is not None
    assert await seen_by(world) == {STABLE}
    rolled_back = await world.get(rollout_id)
    assert rolled_back.state is RolloutState.ROLLED_BACK
    [event] = world.events(ev.RolloutRolledBack)
    assert event.stable_version == STABLE


async def test_rolling_moves_batch_by_batch(world: RolloutWorld) -> None:
    """Four batches: 25, 50, 75, 100%, each baked and judged before the next."""
    rollout_id = await start(world, RolloutSpec(strategy=Strategy.ROLLING, bake_seconds=60))
    seen = [(await world.get(rollout_id)).percent]
    for _ in range(3):
        await world.tick(seconds=60)
        seen.append((await world.get(rollout_id)).percent)
    assert seen == [25, 50, 75, 100]


async def test_instant_serves_everyone_and_is_watched_by_its_slo(world: RolloutWorld) -> None:
    """Instant: 100% at start; rolled back by a violation inside its watch window."""
    await with_stable(world)
    spec = RolloutSpec(strategy=Strategy.INSTANT, watch_seconds=1800)
    rollout_id = await start(world, spec)
    started = await world.get(rollout_id)
    assert (started.percent, started.strategy) == (100, Strategy.INSTANT)
    assert await seen_by(world) == {"2.3.0"}
    [event] = world.events(ev.RolloutStarted)
    assert (event.strategy, event.percent) == ("instant", 100)
    await world.tick(seconds=1799)
    assert await world.violation() is not None
    assert await seen_by(world) == {STABLE}


async def test_instant_completes_once_its_window_is_clean(world: RolloutWorld) -> None:
    """With good outcomes all through the watch window the instant rollout completes."""
    rollout_id = await start(world, RolloutSpec(strategy=Strategy.INSTANT, watch_seconds=1800))
    await world.tick(seconds=1800)
    assert (await world.get(rollout_id)).state is RolloutState.COMPLETED
