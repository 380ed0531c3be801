"""Check verdicts start or refuse a rollout, whatever their order and however often they come."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portico.events.v1 import events_pb2 as ev
from portico_rollout.domain.state import RolloutState
from portico_rollout.domain.verdicts import CheckKind
from portico_rollout.testing.world import RolloutWorld

ORDERS: list[tuple[CheckKind, CheckKind]] = [("security", "compat"), ("compat", "security")]


@pytest.mark.parametrize("order", ORDERS)
async def test_verdicts_after_the_request_start_it(
    world: RolloutWorld, order: tuple[CheckKind, CheckKind]
) -> None:
    """Both passes after the request start phase 0 and emit one rollout.started."""
    rollout = await world.request()
    await world.verdict(order[0], True)
    assert (await world.get(rollout.rollout_id)).state is RolloutState.AWAITING_CHECKS
    await world.verdict(order[1], True)
    stored = await world.get(rollout.rollout_id)
    assert stored.state is RolloutState.IN_PROGRESS
    assert stored.percent == 10
    [started] = world.events(ev.RolloutStarted)
    assert started.rollout_id == rollout.rollout_id
    assert list(started.phases) == [10, 25, 50, 100]
    assert started.percent == 10


@pytest.mark.parametrize("order", ORDERS)
async def test_verdicts_before_the_request_are_not_lost(
    world: RolloutWorld, order: tuple[CheckKind, CheckKind]
) -> None:
    """Verdicts that arrive before RequestRollout start the rollout the moment it is requested."""
    await world.verdict(order[0], True)
    await world.verdict(order[1], True)
    assert world.event_types() == []
    rollout = await world.request()
    assert rollout.state is RolloutState.IN_PROGRESS
    assert [e.rollout_id for e in world.events(ev.RolloutStarted)] == [rollout.rollout_id]


async def test_one_verdict_before_and_one_after(world: RolloutWorld) -> None:
    """A verdict kept from before the request counts together with one that comes after."""
    await world.verdict("compat", True)
    rollout = await world.request()
    assert rollout.state is RolloutState.AWAITING_CHECKS
    await world.verdict("security", True)
    assert (await world.get(rollout.rollout_id)).state is RolloutState.IN_PROGRESS


async def test_rejected_artifact_refuses_the_rollout(world: RolloutWorld) -> None:
    """A rejection refuses the rollout with its reasons, even when compat passed."""
    rollout = await world.request()
    await world.verdict("compat", True)
    await world.verdict("security", False, "signature does not verify")
    stored = await world.get(rollout.rollout_id)
    assert stored.state is RolloutState.REFUSED
    assert "signature does not verify" in stored.reason
    [refused] = world.events(ev.RolloutRefused)
    assert list(refused.reasons) == ["security: signature does not verify"]
    assert world.events(ev.RolloutStarted) == []


async def test_rejection_before_the_request_refuses_it(world: RolloutWorld) -> None:
    """A rollout requested for an artifact already rejected is refused at once."""
    await world.verdict("security", False, "integrity mismatch")
    rollout = await world.request()
    assert rollout.state is RolloutState.REFUSED
    assert len(world.events(ev.RolloutRefused)) == 1


async def test_incompatible_refuses(world: RolloutWorld) -> None:
    """A failed compat check refuses the rollout."""
    rollout = await world.request()
    await world.verdict("compat", False, "backstage ^1.30 not satisfied by 1.28.0")
    assert (await world.get(rollout.rollout_id)).state is RolloutState.REFUSED


async def test_newer_verdict_supersedes_an_older_one(world: RolloutWorld) -> None:
    """A re-check that passes replaces an earlier rejection kept from before the request."""
    await world.verdict("security", False, "unknown key", at=world.clock.now())
    await world.verdict("security", True, at=world.clock.now() + timedelta(minutes=5))
    await world.verdict("compat", True)
    rollout = await world.request()
    assert rollout.state is RolloutState.IN_PROGRESS


async def test_old_verdict_delivered_late_does_not_undo_a_newer_one(world: RolloutWorld) -> None:
    """A rejection dated before the pass that already started the canary changes nothing."""
    rollout = await world.started()
    older = rollout.created_at - timedelta(minutes=1)
    assert await world.verdict("security", False, "stale", at=older) == []
    assert (await world.get(rollout.rollout_id)).state is RolloutState.IN_PROGRESS


async def test_duplicate_and_late_verdicts_are_harmless(world: RolloutWorld) -> None:
    """The same verdict event twice, or a pass after the start, emits nothing more."""
    rollout = await world.request()
    await world.verdict("security", True, event_id="v-1")
    await world.verdict("security", True, event_id="v-1")
    await world.verdict("compat", True)
    await world.verdict("compat", True)
    await world.verdict("security", True)
    assert world.event_types() == ["RolloutRequested", "RolloutStarted"]
    assert len(world.store.state.verdicts) == 4
    assert (await world.get(rollout.rollout_id)).state is RolloutState.IN_PROGRESS


async def test_verdict_for_another_version_waits(world: RolloutWorld) -> None:
    """A verdict about a different version of the plugin is kept but does not touch this rollout."""
    rollout = await world.request()
    await world.verdict("security", False, "bad", version="9.9.9")
    await world.verdict("compat", False, "bad", version="9.9.9")
    assert (await world.get(rollout.rollout_id)).state is RolloutState.AWAITING_CHECKS
    assert world.event_types() == ["RolloutRequested"]


async def test_rejection_during_the_canary_rolls_back(world: RolloutWorld) -> None:
    """A rejection that comes while users have the version rolls it back through the saga."""
    rollout = await world.started()
    await world.verdict("security", False, "publisher key revoked")
    stored = await world.get(rollout.rollout_id)
    assert stored.state is RolloutState.ROLLED_BACK
    [rolled_back] = world.events(ev.RolloutRolledBack)
    assert "publisher key revoked" in rolled_back.reason
    await world.run_sagas()
    steps = world.store.state.steps
    assert [s.state.value for s in steps.values()] == ["done", "done"]


async def test_verdict_outside_the_transactions_tenant_is_refused(world: RolloutWorld) -> None:
    """A verdict for tenant B in tenant A's transaction is an error, not a cross-tenant write."""
    from portico_rollout.app import handlers
    from portico_rollout.domain.verdicts import CheckVerdict
    from portico_rollout.errors import RolloutError

    verdict = CheckVerdict(
        "globex", world.plugin, world.version, "security", True, (), "e-1", world.clock.now()
    )
    async with world.uow("acme") as tx:
        with pytest.raises(RolloutError, match="tenant"):
            await handlers.record_verdict(tx, verdict)
    assert world.store.state.verdicts == []
