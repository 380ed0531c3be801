"""WatchAssignments: the tenant's assignments first, then each change, from the in-memory view."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast

import pytest

from portico.rollout.v1 import assignments_pb2 as pb
from portico.rollout.v1 import rollout_pb2
from portico_common.tenants import InvalidTenantIdError
from portico_rollout.adapters.view import AssignmentView
from portico_rollout.domain.assignment import Assignment
from portico_rollout.entrypoints.grpc_assignments import AssignmentServicer
from portico_rollout.errors import AssignmentsNotReadyError
from portico_rollout.testing.world import PLUGIN, TENANT, RolloutWorld

OTHER = "@acme/plugin-other"


class Context:
    """The part of a grpc.aio context the servicer reads: the caller's time left."""

    def __init__(self, remaining: float | None = None) -> None:
        self._ends = None if remaining is None else time.monotonic() + remaining

    def time_remaining(self) -> float | None:
        return None if self._ends is None else max(0.0, self._ends - time.monotonic())


Stream = AsyncGenerator[pb.WatchAssignmentsResponse, None]


def watch(
    view: AssignmentView, plugin: str = "", remaining: float | None = None, tenant: str = TENANT
) -> Stream:
    """WatchAssignments as grpc.aio calls it: an async generator of responses."""
    request = pb.WatchAssignmentsRequest(tenant_id=tenant, plugin=plugin)
    context: Any = Context(remaining)
    return cast("Stream", AssignmentServicer(view).WatchAssignments(request, context))


async def next_of(
    stream: AsyncIterator[pb.WatchAssignmentsResponse],
) -> pb.WatchAssignmentsResponse:
    return await asyncio.wait_for(anext(stream), 5)


async def test_a_watch_starts_with_the_tenants_assignments_then_streams_changes(
    world: RolloutWorld,
) -> None:
    """The first message is the snapshot (stable and canary), each later one what changed."""
    await world.request(plugin=OTHER)
    await world.settle()
    stream = watch(world.view)
    first = await next_of(stream)
    assert first.snapshot
    [other] = first.assignments
    assert (other.plugin, other.state, other.percent) == (
        OTHER,
        rollout_pb2.ROLLOUT_STATE_AWAITING_CHECKS,
        0,
    )
    await world.started()
    await world.settle()
    change = await next_of(stream)
    assert not change.snapshot
    [started] = change.assignments
    assert (started.plugin, started.canary_version, started.percent, started.state) == (
        PLUGIN,
        "2.3.0",
        10,
        rollout_pb2.ROLLOUT_STATE_IN_PROGRESS,
    )
    await world.violation()
    await world.settle()
    [rolled_back] = (await next_of(stream)).assignments
    # Nothing was stable before the canary: the plugin is now not installed at all.
    assert rolled_back == pb.Assignment(tenant_id=TENANT, plugin=PLUGIN)
    await stream.aclose()


async def test_a_watch_of_one_plugin_sees_only_that_plugin(world: RolloutWorld) -> None:
    """With a plugin named, the snapshot and the changes are that plugin's alone."""
    await world.settle()
    stream = watch(world.view, plugin=PLUGIN)
    assert list((await next_of(stream)).assignments) == []
    await world.request(plugin=OTHER)
    await world.started()
    await world.settle()
    [only] = (await next_of(stream)).assignments
    assert only.plugin == PLUGIN
    await stream.aclose()


async def test_a_slow_watcher_gets_the_latest_assignment_per_plugin(world: RolloutWorld) -> None:
    """Changes it has not read yet are coalesced: one assignment per plugin, the newest."""
    await world.settle()
    stream = watch(world.view)
    await next_of(stream)
    await world.started()
    await world.settle()
    await world.tick(seconds=600)
    await world.settle()
    [latest] = (await next_of(stream)).assignments
    assert latest.percent == 25
    await stream.aclose()


async def test_a_watch_ends_cleanly_before_the_callers_deadline(world: RolloutWorld) -> None:
    """With 0.3 s left the stream ends on its own, without an error, a little before."""
    await world.settle()
    stream = watch(world.view, remaining=0.3)
    started = time.monotonic()
    await next_of(stream)
    with pytest.raises(StopAsyncIteration):
        await next_of(stream)
    assert 0.2 < time.monotonic() - started < 0.3


async def test_closing_the_view_ends_every_watch(world: RolloutWorld) -> None:
    """When the service stops, open watches end instead of holding the shutdown."""
    await world.settle()
    stream = watch(world.view)
    await next_of(stream)
    stop = asyncio.Event()
    closer = asyncio.create_task(world.view.run(stop))
    stop.set()
    await closer
    with pytest.raises(StopAsyncIteration):
        await next_of(stream)
    late = watch(world.view)
    await next_of(late)
    with pytest.raises(StopAsyncIteration):
        await next_of(late)


async def test_a_watch_before_the_view_is_built_is_unavailable(world: RolloutWorld) -> None:
    """Nothing is streamed from a view still loading: UNAVAILABLE, so the client retries."""
    with pytest.raises(AssignmentsNotReadyError):
        await next_of(watch(world.view))


async def test_a_watch_checks_the_tenant(world: RolloutWorld) -> None:
    """A tenant id outside the rule is refused before anything is watched."""
    await world.settle()
    with pytest.raises(InvalidTenantIdError):
        await next_of(watch(world.view, tenant="Not A Tenant"))


async def test_the_view_forgets_a_plugin_no_longer_installed() -> None:
    """An empty assignment removes the plugin; lookups then answer nothing for it."""
    view = AssignmentView()
    await view.route([Assignment(TENANT, PLUGIN, stable_version="1.0.0")], complete=True)
    assert view.built
    assert len(view) == 1
    await view.route([Assignment(TENANT, PLUGIN)])
    assert view.get(TENANT, PLUGIN) is None
    assert view.of_tenant(TENANT) == []
    assert len(view) == 0
