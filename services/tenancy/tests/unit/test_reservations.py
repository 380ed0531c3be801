"""Quota reservations over the in-memory adapter: admission, idempotency, settling by events."""

from __future__ import annotations

import pytest

from portico.events.v1 import events_pb2 as ev
from portico_common.events.envelope import Envelope
from portico_common.events.topology import owner_source
from portico_tenancy.app import handlers, quotas, reservations
from portico_tenancy.domain.quota import Resources
from portico_tenancy.domain.reservations import Amounts, ReservationKind, ReservationState
from portico_tenancy.entrypoints.usage_events import USAGE_DURABLE
from portico_tenancy.errors import (
    InvalidReservationError,
    QuotaExceededError,
    TenantNotFoundError,
)
from portico_tenancy.testing import TenancyWorld as World

LIMITS = Resources(cpu_millicores=1000, memory_mib=1024, storage_mib=0)


def _install(
    rid: str, plugin: str = "p", version: str = "1.0.0", **amounts: int
) -> reservations.Claim:
    return reservations.Claim(
        rid, ReservationKind.INSTALL, Amounts(plugins=1, **amounts), plugin=plugin, version=version
    )


def _rollout(rid: str) -> reservations.Claim:
    return reservations.Claim(rid, ReservationKind.ROLLOUT, Amounts(rollouts=1), plugin="p")


async def _world(max_plugins: int = 2, max_rollouts: int | None = None) -> World:
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    await quotas.set_quota(world.uow, "acme", LIMITS, max_plugins, max_rollouts=max_rollouts)
    return world


async def _deliver(world: World, payload: object) -> None:
    """Runs the tenancy-usage handler for the event, as the consumer would."""
    (subscription,) = [s for s in world.components.subscriptions if s.durable == USAGE_DURABLE]
    envelope = Envelope.of(payload, source=owner_source("rollout.completed"), tenant_id="acme")  # type: ignore[arg-type]
    handler = subscription.handlers[envelope.type]
    await handler(envelope, None)  # type: ignore[arg-type]


async def test_a_claim_beyond_the_quota_is_refused_naming_the_dimension() -> None:
    """The third install at max_plugins 2 is RESOURCE_EXHAUSTED and stores nothing."""
    world = await _world()
    await reservations.reserve(world.uow, "acme", _install("r1", "a"))
    await reservations.reserve(world.uow, "acme", _install("r2", "b"))
    with pytest.raises(QuotaExceededError, match=r"plugins: 1 wanted, 2 of 2 held"):
        await reservations.reserve(world.uow, "acme", _install("r3", "c"))
    assert ("acme", "r3") not in world.tables.reservations


async def test_each_dimension_is_checked_only_when_claimed() -> None:
    """Memory over the limit refuses an install asking memory, not a rollout asking none."""
    world = await _world(max_plugins=10, max_rollouts=1)
    with pytest.raises(QuotaExceededError, match="memory_mib: 2048 wanted, 0 of 1024 held"):
        await reservations.reserve(world.uow, "acme", _install("big", memory_mib=2048))
    await reservations.reserve(world.uow, "acme", _rollout("ro-1"))
    with pytest.raises(QuotaExceededError, match="concurrent rollouts"):
        await reservations.reserve(world.uow, "acme", _rollout("ro-2"))


async def test_without_a_quota_claims_are_granted_and_recorded() -> None:
    """A tenant with no quota is not limited, but what it holds is known."""
    world = World()
    await handlers.create_tenant(world.uow, "acme", "Acme")
    for i in range(5):
        await reservations.reserve(world.uow, "acme", _install(f"r{i}", f"p{i}"))
    assert len(world.tables.reservations) == 5


async def test_reserve_is_idempotent_by_id_and_refuses_another_claim_under_it() -> None:
    """The same id and claim answers the stored reservation; another claim under it is refused."""
    world = await _world(max_plugins=1)
    first = await reservations.reserve(world.uow, "acme", _install("r1", "a"))
    assert await reservations.reserve(world.uow, "acme", _install("r1", "a")) == first
    with pytest.raises(InvalidReservationError, match="already holds another claim"):
        await reservations.reserve(world.uow, "acme", _install("r1", "b"))


async def test_release_is_idempotent_and_frees_room() -> None:
    """Releasing twice changes nothing the second time; the freed slot admits a new claim."""
    world = await _world(max_plugins=1)
    await reservations.reserve(world.uow, "acme", _install("r1", "a"))
    once = await reservations.release(world.uow, "acme", "r1", "failed")
    twice = await reservations.release(world.uow, "acme", "r1", "again")
    assert once == twice
    assert (once.state, once.reason) == (ReservationState.RELEASED, "failed")
    granted = await reservations.reserve(world.uow, "acme", _install("r2", "b"))
    assert granted.state is ReservationState.HELD
    # A released id is never granted again.
    assert (await reservations.reserve(world.uow, "acme", _install("r1", "a"))).state is (
        ReservationState.RELEASED
    )


async def test_reservations_of_an_unknown_tenant_are_refused() -> None:
    """Reserve for a tenant that does not exist is NOT_FOUND and emits nothing."""
    world = World()
    with pytest.raises(TenantNotFoundError):
        await reservations.reserve(world.uow, "ghost", _install("r1"))
    assert world.committed == []


async def test_a_rejected_or_expired_install_releases_its_hold() -> None:
    """plugin.install.rejected and .expired release the install's reservation by request id."""
    world = await _world()
    await reservations.reserve(world.uow, "acme", _install("r1", "a"))
    await reservations.reserve(world.uow, "acme", _install("r2", "b"))
    await _deliver(world, ev.InstallRejected(tenant_id="acme", request_id="r1", plugin="a"))
    await _deliver(world, ev.InstallExpired(tenant_id="acme", request_id="r2", plugin="b"))
    assert [r.reason for r in world.tables.reservations.values()] == [
        "install rejected",
        "install expired",
    ]
    assert all(r.state is ReservationState.RELEASED for r in world.tables.reservations.values())


async def test_a_declined_install_rollout_releases_only_that_installs_hold() -> None:
    """rollout.install_declined releases the install's hold by request id, not the version's."""
    world = await _world()
    await reservations.reserve(world.uow, "acme", _install("r1", "a"))
    await reservations.reserve(world.uow, "acme", _install("r2", "a"))
    declined = ev.RolloutInstallDeclined(
        tenant_id="acme", request_id="r2", plugin="a", version="1.0.0", reason="ro-1 runs"
    )
    await _deliver(world, declined)
    await _deliver(world, declined)  # redelivered: releases nothing twice
    rows = world.tables.reservations
    assert rows["acme", "r1"].state is ReservationState.HELD
    assert (rows["acme", "r2"].state, rows["acme", "r2"].reason) == (
        ReservationState.RELEASED,
        "install declined by rollout: ro-1 runs",
    )
    granted = await reservations.reserve(world.uow, "acme", _install("r3", "b"))
    assert granted.state is ReservationState.HELD


async def test_a_rollback_releases_the_install_and_the_rollout_hold_a_completion_makes_usage() -> (
    None
):
    """rolled_back frees both holds; completed makes the install usage and frees the rollout."""
    world = await _world(max_rollouts=1)
    await reservations.reserve(world.uow, "acme", _install("r1", "a", version="1.0.0"))
    await reservations.reserve(world.uow, "acme", _rollout("ro-1"))
    await _deliver(
        world,
        ev.RolloutRolledBack(tenant_id="acme", rollout_id="ro-1", plugin="a", version="1.0.0"),
    )
    assert world.tables.reservations["acme", "r1"].state is ReservationState.RELEASED
    assert world.tables.reservations["acme", "ro-1"].reason == "rollout rolled_back"

    await reservations.reserve(world.uow, "acme", _install("r2", "a", version="1.0.1"))
    await reservations.reserve(world.uow, "acme", _rollout("ro-2"))
    completed = ev.RolloutCompleted(
        tenant_id="acme", rollout_id="ro-2", plugin="a", version="1.0.1"
    )
    await _deliver(world, completed)
    await _deliver(world, completed)  # redelivered: settles nothing twice
    rows = world.tables.reservations
    assert rows["acme", "r2"].state is ReservationState.IN_USE
    assert rows["acme", "ro-2"].state is ReservationState.RELEASED
    assert world.tables.usage["acme"].plugins == 1
    assert world.tables.usage["acme"].revision == 1


async def test_a_version_live_without_a_reservation_still_counts_as_usage() -> None:
    """A rollout requested directly (no install hold) is one plugin of usage once completed."""
    world = await _world()
    await _deliver(
        world, ev.RolloutCompleted(tenant_id="acme", rollout_id="ro-9", plugin="z", version="2.0.0")
    )
    assert world.tables.reservations["acme", "rollout:ro-9"].state is ReservationState.IN_USE
    assert world.tables.usage["acme"].plugins == 1


async def test_releasing_a_version_in_use_lowers_the_usage() -> None:
    """Release of an in-use reservation (an uninstall) recomputes and announces the usage."""
    world = await _world()
    await reservations.reserve(world.uow, "acme", _install("r1", "a", cpu_millicores=100))
    async with world.uow("acme") as tx:
        await reservations.went_live(tx, "acme", "a", "1.0.0", "ro-1")
    await reservations.release(world.uow, "acme", "r1", "uninstalled")
    usage = world.tables.usage["acme"]
    assert (usage.plugins, usage.used.cpu_millicores, usage.revision) == (0, 0, 2)


async def test_an_uninstall_releases_the_requests_reservation_once() -> None:
    """plugin.install.uninstalled frees the in-use reservation; usage drops once, not twice."""
    world = await _world()
    await reservations.reserve(world.uow, "acme", _install("r1", "a", cpu_millicores=100))
    await reservations.reserve(world.uow, "acme", _install("r2", "b"))
    async with world.uow("acme") as tx:
        await reservations.went_live(tx, "acme", "a", "1.0.0", "ro-1")
    gone = ev.InstallUninstalled(
        tenant_id="acme", request_id="r1", plugin="a", version="1.0.0", uninstalled_by="bob"
    )
    await _deliver(world, gone)
    await _deliver(world, gone)  # redelivered under another id: no second change
    rows = world.tables.reservations
    assert (rows["acme", "r1"].state, rows["acme", "r1"].reason) == (
        ReservationState.RELEASED,
        "uninstalled by bob: ",
    )
    assert rows["acme", "r2"].state is ReservationState.HELD
    usage = world.tables.usage["acme"]
    assert (usage.plugins, usage.used.cpu_millicores, usage.revision) == (0, 0, 2)
    updates = [e for e in world.committed if isinstance(e, ev.TenantUsageUpdated)]
    assert [u.plugins for u in updates] == [1, 0]
