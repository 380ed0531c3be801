"""In-memory adapters of the read path's ports, for unit tests and the contract suite.

`MemoryAssignmentReader` reads the committed state of a MemoryStore as the
PostgreSQL reader reads the tables; `MemoryChangeFeed` is a feed the test
drives, announcing the plugins named by the events the store committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager

from google.protobuf.message import Message

from portico_common.tenants import ALL_TENANTS
from portico_rollout.adapters.memory import MemoryStore
from portico_rollout.adapters.view_feed import ended_by
from portico_rollout.app.assignments import Ended, OnChange, OnGap
from portico_rollout.domain.assignment import Assignment, PluginKey


class MemoryAssignmentReader:
    """The AssignmentReader over a MemoryStore's committed tables."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def all(self) -> list[Assignment]:
        async with self._store.open(ALL_TENANTS) as tx:
            keys = set(tx.state.stable)
            keys |= {
                (r.tenant_id, r.plugin)
                for r in tx.state.rollouts.values()
                if not r.state.is_terminal
            }
        return await self._read(keys)

    async def of(self, keys: Collection[PluginKey]) -> list[Assignment]:
        return await self._read(keys)

    async def _read(self, keys: Collection[PluginKey]) -> list[Assignment]:
        found = []
        async with self._store.open(ALL_TENANTS) as tx:
            for tenant_id, plugin in sorted(keys):
                rollout = await tx.rollouts.active_for(tenant_id, plugin)
                stable = await tx.stable_versions.get(tenant_id, plugin)
                assignment = Assignment.of(tenant_id, plugin, rollout, stable)
                if assignment != Assignment(tenant_id, plugin):
                    found.append(assignment)
        return found


class MemoryChangeFeed:
    """A ChangeFeed for tests: `announce` passes on the plugins committed events name."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._seen = 0
        self._on_change: OnChange | None = None
        self._on_gap: OnGap | None = None

    @asynccontextmanager
    async def subscribe(self, on_change: OnChange, on_gap: OnGap) -> AsyncIterator[None]:
        self._on_change, self._on_gap = on_change, on_gap
        self._seen = len(self._store.sink.events)
        try:
            yield
        finally:
            self._on_change = self._on_gap = None

    def news(self) -> list[tuple[str, str, Ended | None]]:
        """What the events committed since the last call say, in order, as the feed passes on."""
        events = self._store.sink.events[self._seen :]
        self._seen += len(events)
        return [(*plugin_key(payload), ended_by(payload)) for payload, _subject in events]

    def announce(self) -> int:
        """Passes on every event committed since the last call to the subscriber."""
        news = self.news()
        if self._on_change is not None:
            for item in news:
                self._on_change(*item)
        return len(news)

    def gap(self) -> None:
        """As if the feed had reconnected after missing events."""
        if self._on_gap is not None:
            self._on_gap()


def plugin_key(payload: Message) -> PluginKey:
    """(tenant, plugin) of a rollout event payload."""
    return (getattr(payload, "tenant_id", ""), getattr(payload, "plugin", ""))
