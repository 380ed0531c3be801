"""ResolveVersion: sticky inside a canary, the stable version otherwise."""

from __future__ import annotations

import pytest

from portico_common.npm import InvalidPackageNameError
from portico_rollout.app.assignments import VersionAnswer
from portico_rollout.domain.sticky import bucket_for
from portico_rollout.errors import RolloutError
from portico_rollout.testing.world import RolloutWorld

USERS = [f"user-{n}" for n in range(400)]


async def resolve_all(world: RolloutWorld) -> dict[str, VersionAnswer]:
    return {user: await world.resolve(user) for user in USERS}


async def test_not_installed_resolves_to_nothing(world: RolloutWorld) -> None:
    """With no stable version and no rollout, the plugin resolves to "" for everyone."""
    answer = await world.resolve("alice", plugin="left-pad")
    assert (answer.version, answer.rollout_id, answer.in_canary, answer.percent) == (
        "",
        "",
        False,
        0,
    )
    assert answer.bucket == bucket_for("acme", "left-pad", "", "alice")


async def test_awaiting_checks_serves_stable_only(world: RolloutWorld) -> None:
    """A rollout still waiting for its checks sends nobody to the new version."""
    rollout = await world.request()
    answers = await resolve_all(world)
    assert {a.version for a in answers.values()} == {""}
    assert {a.rollout_id for a in answers.values()} == {rollout.rollout_id}


async def test_canary_is_sticky_as_the_share_grows(world: RolloutWorld) -> None:
    """Everyone who had the new version at 10% still has it at 25% and 50%, and the share grows."""
    await world.started()
    canary_10 = {u for u, a in (await resolve_all(world)).items() if a.in_canary}
    await world.tick(seconds=600)
    canary_25 = {u for u, a in (await resolve_all(world)).items() if a.in_canary}
    await world.tick(seconds=600)
    answers_50 = await resolve_all(world)
    canary_50 = {u for u, a in answers_50.items() if a.in_canary}
    assert canary_10 <= canary_25 <= canary_50
    assert 0 < len(canary_10) < len(canary_25) < len(canary_50) < len(USERS)
    assert {answers_50[u].version for u in canary_50} == {world.version}
    assert {a.percent for a in answers_50.values()} == {50}
    assert {answers_50[u].version for u in set(USERS) - canary_50} == {""}


async def test_rolled_back_canary_resolves_to_stable(world: RolloutWorld) -> None:
    """After a rollback nobody, not even the old canary cohort, gets the bad version."""
    await world.started()
    await world.violation()
    answers = await resolve_all(world)
    assert {a.version for a in answers.values()} == {""}
    assert not any(a.in_canary for a in answers.values())


async def test_completed_version_serves_everyone_as_stable(world: RolloutWorld) -> None:
    """Once completed, the version is the stable one for every user and nobody is 'in canary'."""
    await world.started(bake_seconds=1)
    for _ in range(4):
        await world.tick(seconds=1)
    answers = await resolve_all(world)
    assert {(a.version, a.stable_version, a.in_canary) for a in answers.values()} == {
        (world.version, world.version, False)
    }


async def test_resolve_validates_its_input(world: RolloutWorld) -> None:
    """An empty user id is INVALID_ARGUMENT."""
    with pytest.raises(RolloutError, match="user_id") as caught:
        await world.resolve("", plugin="left-pad")
    assert caught.value.code == "INVALID_ARGUMENT"


@pytest.mark.parametrize("plugin", ["", "Left-Pad", "a~b", "@acme/"])
async def test_resolve_refuses_a_plugin_npm_could_not_name(
    world: RolloutWorld, plugin: str
) -> None:
    """The plugin asked about follows the kernel's npm name rule; the error names the field."""
    with pytest.raises(InvalidPackageNameError, match=r"^invalid plugin ") as caught:
        await world.resolve("user-1", plugin=plugin)
    assert caught.value.code == "INVALID_ARGUMENT"
