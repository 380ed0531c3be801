"""AssignmentSync: the view is built once, then follows the plugins events name, read back."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence

import pytest

from portico_rollout.adapters.view import AssignmentView
from portico_rollout.adapters.view_memory import MemoryAssignmentReader, MemoryChangeFeed
from portico_rollout.app.assignment_sync import AssignmentSync
from portico_rollout.app.assignments import Ended, resolve_version
from portico_rollout.domain.assignment import Assignment, PluginKey
from portico_rollout.errors import AssignmentsNotReadyError
from portico_rollout.testing.driver import eventually
from portico_rollout.testing.world import PLUGIN, TENANT, RolloutWorld


class CountingReader(MemoryAssignmentReader):
    """The memory reader, counting reads and failing on demand."""

    def __init__(self, world: RolloutWorld) -> None:
        super().__init__(world.store)
        self.full_reads = 0
        self.keys_read: list[set[PluginKey]] = []
        self.fail = False

    async def all(self) -> list[Assignment]:
        self.full_reads += 1
        return await super().all()

    async def of(self, keys: Collection[PluginKey]) -> list[Assignment]:
        if self.fail:
            raise ConnectionError("database unreachable")
        self.keys_read.append(set(keys))
        return await super().of(keys)


class RecordingRouter:
    """A router that records what it was sent, and can be made to fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[Assignment], bool]] = []
        self.fail = False

    async def route(self, changes: Sequence[Assignment], *, complete: bool = False) -> None:
        if self.fail:
            raise RuntimeError("cluster unreachable")
        self.calls.append((list(changes), complete))


VIEWS: dict[int, AssignmentView] = {}


def sync_for(
    world: RolloutWorld, *routers: RecordingRouter
) -> tuple[AssignmentSync, CountingReader]:
    """A sync over the world's store that routes to a fresh view first, then `routers`."""
    reader = CountingReader(world)
    view = AssignmentView()
    sync = AssignmentSync(reader, MemoryChangeFeed(world.store), [view, *routers])
    VIEWS[id(sync)] = view
    return sync, reader


async def test_nothing_is_answered_until_the_first_build(world: RolloutWorld) -> None:
    """Before the view is built a resolve is refused, after it the answer comes from memory."""
    await world.started()
    with pytest.raises(AssignmentsNotReadyError):
        resolve_version(world.view, TENANT, "user-1", PLUGIN)
    assert await world.settle() == 1
    assert world.sync.built.is_set()
    assert (await world.resolve("user-1")).percent == 10


async def test_the_first_build_is_complete_and_later_ones_send_only_changes(
    world: RolloutWorld,
) -> None:
    """A router gets every assignment once (complete), then only what changed."""
    router = RecordingRouter()
    sync, reader = sync_for(world, router)
    await world.started()
    await world.request(plugin="@acme/other")
    assert await sync.step() == 2
    [(first, complete)] = router.calls
    assert complete
    assert sorted(a.plugin for a in first) == ["@acme/other", PLUGIN]
    sync.gap()
    assert await sync.step() == 0
    assert reader.full_reads == 2
    assert len(router.calls) == 1


async def test_an_event_reads_back_only_its_plugin(world: RolloutWorld) -> None:
    """A change is read back for the plugin the event names, and routed once."""
    router = RecordingRouter()
    sync, reader = sync_for(world, router)
    await world.request(plugin="@acme/other")
    await sync.step()
    await world.started()
    sync.changed(TENANT, PLUGIN, None)
    assert await sync.step() == 1
    assert reader.keys_read == [{(TENANT, PLUGIN)}]
    [change] = router.calls[-1][0]
    assert (change.plugin, change.percent, change.canary_version) == (PLUGIN, 10, "2.3.0")
    sync.changed(TENANT, PLUGIN, None)
    assert await sync.step() == 0
    assert len(router.calls) == 2


async def test_an_ended_rollout_reaches_the_view_before_any_read(world: RolloutWorld) -> None:
    """A rollback's event takes the canary out at once, even while the database is down."""
    sync, reader = sync_for(world)
    rollout = await world.started()
    await sync.step()
    await world.violation()
    reader.fail = True
    sync.changed(TENANT, PLUGIN, Ended(rollout.rollout_id, ""))
    with pytest.raises(ConnectionError):
        await sync.step()
    view = sync_view(sync)
    assert view.get(TENANT, PLUGIN) is None
    reader.fail = False
    # The read back the failure postponed still happens, and agrees.
    assert await sync.step() == 0
    assert reader.keys_read == [{(TENANT, PLUGIN)}]


async def test_a_late_end_of_an_earlier_rollout_is_ignored(world: RolloutWorld) -> None:
    """An end naming a rollout that is not the current one leaves the canary serving."""
    sync, _ = sync_for(world)
    await world.started()
    await sync.step()
    sync.changed(TENANT, PLUGIN, Ended("an-earlier-rollout", "1.0.0"))
    await sync.step()
    assignment = sync_view(sync).get(TENANT, PLUGIN)
    assert assignment is not None
    assert assignment.percent == 10


async def test_a_gap_rereads_everything_and_drops_what_vanished(world: RolloutWorld) -> None:
    """After a reconnect everything is read; a plugin with no rows is routed as not installed."""
    router = RecordingRouter()
    sync, reader = sync_for(world, router)
    await world.started()
    await sync.step()
    world.store.state.rollouts.clear()
    sync.gap()
    assert await sync.step() == 1
    assert reader.full_reads == 2
    assert router.calls[-1] == ([Assignment(TENANT, PLUGIN)], False)
    assert sync_view(sync).get(TENANT, PLUGIN) is None


async def test_a_failing_router_gets_everything_again(world: RolloutWorld) -> None:
    """One router failing holds no other; on the next rebuild it is sent every assignment."""
    flaky = RecordingRouter()
    sync, _ = sync_for(world, flaky)
    await world.request(plugin="@acme/other")
    await sync.step()
    flaky.fail = True
    await world.started()
    sync.changed(TENANT, PLUGIN, None)
    assert await sync.step() == 1
    assert sync_view(sync).get(TENANT, PLUGIN) is not None
    flaky.fail = False
    sync.gap()
    await sync.step()
    everything, complete = flaky.calls[-1]
    assert not complete
    assert sorted(a.plugin for a in everything) == ["@acme/other", PLUGIN]


async def test_the_loop_follows_the_feed_and_resyncs(world: RolloutWorld) -> None:
    """Run as a job: it builds, follows announced events, rereads on its own, and stops."""
    feed = MemoryChangeFeed(world.store)
    view = AssignmentView()
    reader = CountingReader(world)
    sync = AssignmentSync(reader, feed, [view], resync_seconds=0.05)
    stop = asyncio.Event()
    job = asyncio.create_task(sync.run(stop))
    await asyncio.wait_for(sync.built.wait(), 5)
    await world.started()
    feed.announce()
    await eventually(lambda: (a := view.get(TENANT, PLUGIN)) is not None and a.percent == 10)
    # A change nobody announces still arrives with the next resync.
    await world.tick(seconds=600)
    await eventually(lambda: (a := view.get(TENANT, PLUGIN)) is not None and a.percent == 25)
    assert reader.full_reads >= 2
    stop.set()
    await asyncio.wait_for(job, 5)


async def test_the_loop_retries_a_failed_read(world: RolloutWorld) -> None:
    """A read that fails is retried with backoff until the database answers again."""
    feed = MemoryChangeFeed(world.store)
    view = AssignmentView()
    reader = CountingReader(world)
    sync = AssignmentSync(reader, feed, [view])
    stop = asyncio.Event()
    job = asyncio.create_task(sync.run(stop))
    await asyncio.wait_for(sync.built.wait(), 5)
    reader.fail = True
    await world.started()
    feed.announce()
    await asyncio.sleep(0.2)
    assert view.get(TENANT, PLUGIN) is None
    reader.fail = False
    await eventually(lambda: view.get(TENANT, PLUGIN) is not None)
    stop.set()
    await asyncio.wait_for(job, 5)


def sync_view(sync: AssignmentSync) -> AssignmentView:
    """The view a `sync_for` sync routes to first."""
    return VIEWS[id(sync)]
