"""RequestRollout reserves a concurrent rollout at tenancy first; gives it back if not created."""

from __future__ import annotations

import pytest

from portico_rollout.app import handlers
from portico_rollout.domain.rollout import Rollout
from portico_rollout.errors import RolloutAlreadyExistsError, RolloutQuotaExceededError
from portico_rollout.testing.world import RolloutWorld


class Quota:
    """Room for `room` concurrent rollouts; records reservations and releases."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.held: list[str] = []
        self.released: list[tuple[str, str]] = []

    async def reserve_rollout(
        self, tenant_id: str, rollout_id: str, plugin: str, version: str
    ) -> None:
        if len(self.held) >= self.room:
            raise RolloutQuotaExceededError(
                f"concurrent rollouts: 1 wanted, {self.room} of {self.room} held"
                f" ({tenant_id} {plugin}@{version})"
            )
        self.held.append(rollout_id)

    async def release(self, tenant_id: str, rollout_id: str, reason: str) -> None:
        self.held.remove(rollout_id)
        self.released.append((f"{tenant_id}/{rollout_id}", reason))


async def _request(world: RolloutWorld, quota: Quota, plugin: str) -> Rollout:
    return await handlers.request_rollout(
        world.uow, world.slo, "acme", plugin, "1.0.0", defaults=world.defaults, quota=quota
    )


async def test_the_rollout_is_reserved_under_its_own_id(world: RolloutWorld) -> None:
    """The reservation id is the new rollout's id, so tenancy frees it from rollout's events."""
    quota = Quota(room=2)
    rollout = await _request(world, quota, "left-pad")
    assert quota.held == [rollout.rollout_id]


async def test_no_room_left_refuses_the_rollout_and_creates_nothing(world: RolloutWorld) -> None:
    """At the tenant's concurrent-rollout quota a new request is RESOURCE_EXHAUSTED."""
    quota = Quota(room=1)
    await _request(world, quota, "left-pad")
    with pytest.raises(RolloutQuotaExceededError, match="1 of 1 held"):
        await _request(world, quota, "right-pad")
    assert world.event_types() == ["RolloutRequested"]


async def test_a_rollout_not_created_gives_its_reservation_back(world: RolloutWorld) -> None:
    """A second rollout of the same plugin is refused by rollout: its hold is released."""
    quota = Quota(room=5)
    await _request(world, quota, "left-pad")
    with pytest.raises(RolloutAlreadyExistsError):
        await _request(world, quota, "left-pad")
    assert len(quota.held) == 1
    assert [reason for _, reason in quota.released] == [
        "rollout not created: RolloutAlreadyExistsError"
    ]
