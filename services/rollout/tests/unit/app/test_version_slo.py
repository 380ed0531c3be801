"""A rollout cannot start without an SLO for its version: slo ensures one first."""

from __future__ import annotations

import pytest

from portico_common.errors import FailedPreconditionError, UnavailableError
from portico_rollout.app.handlers import RolloutSpec
from portico_rollout.testing.world import RolloutWorld


async def test_the_request_ensures_the_versions_slo_from_the_tenants_default(
    world: RolloutWorld,
) -> None:
    """No template named: slo is asked with an empty one (its tenant default) and the id kept."""
    rollout = await world.request()
    assert world.slo.ensured == [(world.tenant, world.plugin, world.version, "")]
    assert rollout.slo_id == f"slo-{world.plugin}@{world.version}"
    assert (await world.get(rollout.rollout_id)).slo_id == rollout.slo_id


async def test_a_named_template_is_passed_on(world: RolloutWorld) -> None:
    """The request's slo_template is the one slo makes the version's SLO from."""
    world.slo.templates.add("strict")
    await world.request(spec=RolloutSpec(slo_template="strict"))
    assert world.slo.ensured[-1][3] == "strict"


async def test_an_unknown_template_refuses_the_request(world: RolloutWorld) -> None:
    """slo refusing the template is FAILED_PRECONDITION, and no rollout is stored."""
    with pytest.raises(FailedPreconditionError, match="template"):
        await world.request(spec=RolloutSpec(slo_template="missing"))
    assert world.store.state.rollouts == {}


async def test_without_slo_no_rollout_is_created(world: RolloutWorld) -> None:
    """slo unreachable: the request fails UNAVAILABLE (retryable) and stores nothing."""
    world.slo.unavailable = True
    with pytest.raises(UnavailableError) as caught:
        await world.request()
    assert caught.value.code == "UNAVAILABLE"
    assert world.store.state.rollouts == {}
    assert world.event_types() == []
