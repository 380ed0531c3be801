"""A retry is watched by its version's SLO from its start, and only by what is current.

The SLO (and the breakers) of a version outlive an attempt. A retry asked for
while the earlier attempt's violation is still active is refused with the
reason; a violation slo detected before it judged the SLO OK again (an
earlier attempt's, delivered late) never rolls the retry back; one detected
after that check does, even before the retry was created.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from portico.events.v1 import events_pb2 as ev
from portico_rollout.app import controls
from portico_rollout.app.ports import OpenBreaker
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import VersionStillFailingError
from portico_rollout.testing.world import PLUGIN, TENANT, VERSION, RolloutWorld


async def rolled_back_attempt(world: RolloutWorld) -> Rollout:
    """The first attempt, rolled back by a violation slo detected now."""
    first = await world.started()
    assert await world.violation(event_id="ce-first") is not None
    return first


async def retry(world: RolloutWorld, first: Rollout) -> Rollout:
    return await controls.retry(
        world.uow,
        world.slo,
        controls.Control(TENANT, first.rollout_id, "alice", "fixed the config"),
        world.defaults,
    )


async def test_a_retry_is_refused_while_the_slo_still_burns(world: RolloutWorld) -> None:
    first = await rolled_back_attempt(world)
    burning_since = world.clock.now()
    world.clock.advance(seconds=30)
    world.slo.judged(
        TENANT, PLUGIN, VERSION, world.clock.now(), violated_at=burning_since, firing=["page-1h"]
    )
    events = list(world.store.sink.events)
    with pytest.raises(VersionStillFailingError) as refused:
        await retry(world, first)
    message = str(refused.value)
    assert f"SLO slo-{PLUGIN}@{VERSION} violated since {burning_since.isoformat()}" in message
    assert "(page-1h firing)" in message
    assert "request the rollout again once it recovers" in message
    # Nothing was created, announced or audited.
    assert [r.rollout_id for r in world.store.state.rollouts.values()] == [first.rollout_id]
    assert world.store.sink.events == events
    assert world.store.state.audit == []
    # Once slo judges it OK again, the retry goes ahead.
    world.clock.advance(seconds=300)
    world.slo.judged(TENANT, PLUGIN, VERSION, world.clock.now())
    second = await retry(world, first)
    assert (second.attempt, second.retry_of) == (2, first.rollout_id)


async def test_a_retry_is_refused_while_a_breaker_is_open(world: RolloutWorld) -> None:
    first = await rolled_back_attempt(world)
    world.slo.judged(TENANT, PLUGIN, VERSION, world.clock.now())
    opened = world.clock.now() - timedelta(seconds=5)
    world.slo.breaker_open(TENANT, PLUGIN, VERSION, OpenBreaker("b-1", "OPEN", opened))
    with pytest.raises(VersionStillFailingError, match=r"circuit breaker b-1 OPEN since"):
        await retry(world, first)
    world.slo.breaker_open(TENANT, PLUGIN, VERSION)
    assert (await retry(world, first)).attempt == 2


async def test_a_stale_violation_does_not_roll_the_retry_back(world: RolloutWorld) -> None:
    """The first attempt's violation, redelivered after the retry started, changes nothing."""
    first = await rolled_back_attempt(world)
    detected = world.clock.now()
    world.clock.advance(seconds=600)
    world.slo.judged(TENANT, PLUGIN, VERSION, world.clock.now())
    second = await retry(world, first)
    assert second.slo_ok_at == world.clock.now()
    await world.verdict("security", True)
    await world.verdict("compat", True)
    assert (await world.get(second.rollout_id)).state is RolloutState.IN_PROGRESS
    world.clock.advance(seconds=60)
    assert await world.violation(event_id="ce-first-again", detected_at=detected) is None
    assert (await world.get(second.rollout_id)).state is RolloutState.IN_PROGRESS
    # A violation slo detects now is the retry's own: it rolls back.
    assert await world.violation(event_id="ce-second") is not None
    assert (await world.get(second.rollout_id)).state is RolloutState.ROLLED_BACK
    rolled_back = world.events(ev.RolloutRolledBack)
    assert [e.rollout_id for e in rolled_back] == [first.rollout_id, second.rollout_id]


async def test_a_violation_after_the_check_reaches_the_retry_before_it_exists(
    world: RolloutWorld,
) -> None:
    """Detected between slo's OK and the retry's creation: it still takes the retry back."""
    first = await rolled_back_attempt(world)
    world.clock.advance(seconds=600)
    checked = world.clock.now()
    world.slo.judged(TENANT, PLUGIN, VERSION, checked)
    world.clock.advance(seconds=2)
    second = await retry(world, first)
    assert second.slo_ok_at == checked
    # The first attempt's verdicts count at once: the retry serves from its request.
    assert second.state is RolloutState.IN_PROGRESS
    detected = checked + timedelta(seconds=1)
    assert detected < second.created_at
    rolled_back = await world.violation(event_id="ce-race", detected_at=detected)
    assert rolled_back is not None
    assert rolled_back.rollout_id == second.rollout_id
    assert (await world.get(second.rollout_id)).state is RolloutState.ROLLED_BACK
