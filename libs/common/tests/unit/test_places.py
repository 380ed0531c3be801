"""each_place: a platform pass per place, the place visible to the pass, failures contained."""

from __future__ import annotations

import asyncio

import pytest

from portico_common.db import POOL, Place, Tier, platform_place
from portico_common.places import each_place

PLACES = [POOL, Place(Tier.BRIDGE, "svc_t_a"), Place(Tier.SILO, "db_t_b")]


async def _places() -> list[Place]:
    return PLACES


async def test_each_place_runs_the_pass_in_every_place_and_restores_the_pool() -> None:
    seen: list[Place] = []

    async def run() -> str:
        seen.append(platform_place.get())
        # A task the pass starts keeps the pass's place.
        return await asyncio.create_task(_where())

    assert await each_place(_places, run) == ["pool", "svc_t_a", "db_t_b"]
    assert seen == PLACES
    assert platform_place.get() == POOL


async def _where() -> str:
    return platform_place.get().location or "pool"


async def test_a_failing_place_does_not_keep_the_others_from_their_pass() -> None:
    seen: list[Place] = []

    async def run() -> None:
        seen.append(platform_place.get())
        if platform_place.get().tier is Tier.BRIDGE:
            raise RuntimeError("bridge down")

    with pytest.raises(RuntimeError, match="bridge down"):
        await each_place(_places, run)
    assert seen == PLACES
    assert platform_place.get() == POOL


async def test_without_places_the_pass_runs_once_on_the_shared_tables() -> None:
    assert await each_place(None, _where) == ["pool"]
