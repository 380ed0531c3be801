"""RequestRollout: validation, defaults, the stable version, one unfinished rollout per plugin."""

from __future__ import annotations

import pytest

from portico.events.v1 import events_pb2 as ev
from portico_common.errors import InvalidArgumentError
from portico_common.npm import InvalidVersionError
from portico_rollout.app import handlers
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import RolloutError
from portico_rollout.testing.world import RolloutWorld


async def test_request_waits_for_checks_and_is_persisted(world: RolloutWorld) -> None:
    """A new request is stored as AWAITING_CHECKS with the default phases and announced."""
    created = await world.request()
    stored = await world.get(created.rollout_id)
    assert stored.state is RolloutState.AWAITING_CHECKS
    assert stored.phases == (10, 25, 50, 100)
    assert stored.bake_seconds == 600
    assert stored.created_at == world.clock.now()
    [requested] = world.events(ev.RolloutRequested)
    assert (requested.rollout_id, list(requested.phases), requested.bake_seconds) == (
        created.rollout_id,
        [10, 25, 50, 100],
        600,
    )
    assert world.event_types() == ["RolloutRequested"]


async def test_bake_zero_means_the_configured_default(world: RolloutWorld) -> None:
    """bake_seconds 0 takes the default the service was configured with."""
    rollout = await handlers.request_rollout(
        world.uow, world.slo, "acme", "left-pad", "1.0.0", defaults=handlers.Defaults(42)
    )
    assert rollout.bake_seconds == 42


async def test_custom_phases_are_kept(world: RolloutWorld) -> None:
    """Phases given in the request replace the default canary."""
    rollout = await world.request(phases=[5, 50, 100])
    assert (await world.get(rollout.rollout_id)).phases == (5, 50, 100)


@pytest.mark.parametrize(
    ("tenant", "plugin", "version", "field"),
    [
        ("*", "left-pad", "1.0.0", "tenant_id"),
        ("Acme", "left-pad", "1.0.0", "tenant_id"),
        ("acme", "", "1.0.0", "plugin"),
        ("acme", "Left-Pad", "1.0.0", "plugin"),
        ("acme", "@scope/", "1.0.0", "plugin"),
        ("acme", "left-pad", "^1.0.0", "version"),
        ("acme", "left-pad", "1.0.0 || 2", "version"),
        ("acme", "left-pad", "", "version"),
        ("acme", "left-pad", "1.0.0.0.0-", "version"),
        ("acme", "left-pad", "v1.0.0", "version"),
        ("acme", "left-pad", "01.0.0", "version"),
        ("acme", "left-pad", "1.0.0-" + "a" * 251, "version"),
        ("acme", "a~b", "1.0.0", "plugin"),
        ("acme", "node_modules", "1.0.0", "plugin"),
    ],
)
async def test_malformed_request_is_refused(
    world: RolloutWorld, tenant: str, plugin: str, version: str, field: str
) -> None:
    """A bad tenant (including the platform scope "*"), plugin or version is INVALID_ARGUMENT."""
    with pytest.raises(InvalidArgumentError, match=field) as caught:
        await handlers.request_rollout(world.uow, world.slo, tenant, plugin, version)
    assert caught.value.code == "INVALID_ARGUMENT"
    assert world.store.state.rollouts == {}


async def test_bad_phases_are_invalid_argument(world: RolloutWorld) -> None:
    """Phases that do not end at 100 are refused and nothing is stored."""
    with pytest.raises(RolloutError) as caught:
        await world.request(phases=[10, 50])
    assert caught.value.code == "INVALID_ARGUMENT"
    assert world.store.state.rollouts == {}


async def test_second_unfinished_rollout_is_refused(world: RolloutWorld) -> None:
    """While a plugin has a rollout under way, another request for it is ALREADY_EXISTS."""
    first = await world.request()
    with pytest.raises(RolloutError, match=first.rollout_id) as caught:
        await world.request(version="2.4.0")
    assert caught.value.code == "ALREADY_EXISTS"
    assert list(world.store.state.rollouts) == [first.rollout_id]


async def test_other_plugins_and_tenants_are_independent(world: RolloutWorld) -> None:
    """The one-rollout rule is per tenant and plugin."""
    await world.request()
    await world.request(plugin="@acme/plugin-other")
    await world.request(tenant="globex")
    assert len(world.store.state.rollouts) == 3


async def test_a_finished_rollout_frees_the_plugin(world: RolloutWorld) -> None:
    """After a refusal a new rollout of the plugin may be requested."""
    await world.request()
    await world.verdict("security", False, "bad signature")
    again = await world.request(version="2.3.1")
    assert again.state is RolloutState.AWAITING_CHECKS


async def test_completed_version_becomes_the_next_stable(world: RolloutWorld) -> None:
    """A completed rollout's version is the stable version the next rollout runs over."""
    rollout = await world.started(bake_seconds=60)
    for _ in rollout.phases:
        await world.tick(seconds=60)
    assert (await world.get(rollout.rollout_id)).state is RolloutState.COMPLETED
    follow_up = await world.request(version="2.4.0")
    assert follow_up.stable_version == "2.3.0"


async def test_requesting_the_stable_version_is_refused(world: RolloutWorld) -> None:
    """Rolling out the version that already serves everyone is INVALID_ARGUMENT."""
    rollout = await world.started(bake_seconds=60)
    for _ in rollout.phases:
        await world.tick(seconds=60)
    with pytest.raises(RolloutError, match="already the stable version") as caught:
        await world.request()
    assert caught.value.code == "INVALID_ARGUMENT"


async def test_get_unknown_or_foreign_rollout_is_not_found(world: RolloutWorld) -> None:
    """Another tenant's rollout id reads as NOT_FOUND, like one that never existed."""
    rollout = await world.request()
    for tenant, rollout_id in (("globex", rollout.rollout_id), ("acme", "no-such-rollout")):
        with pytest.raises(RolloutError) as caught:
            await world.get(rollout_id, tenant=tenant)
        assert caught.value.code == "NOT_FOUND"


async def test_a_refused_version_is_named_with_the_field_and_the_rule(world: RolloutWorld) -> None:
    """The issue's `1.0.0.0.0-` is refused by the kernel's semver rule, naming the field."""
    with pytest.raises(InvalidVersionError) as caught:
        await handlers.request_rollout(world.uow, world.slo, "acme", "left-pad", "1.0.0.0.0-")
    assert str(caught.value) == (
        "invalid version '1.0.0.0.0-': "
        "not an exact semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])"
    )
    assert caught.value.field == "version"
