"""The in-memory view: every tenant's assignments, answered without touching the database.

It is the resolve adapter of the TrafficRouter port: routing a change here is
what makes ResolveVersion answer differently. A lookup is two dict reads; a
change replaces an immutable Assignment, so a reader never sees half of one.
Watchers (WatchAssignments streams) get changes coalesced per plugin, so a
slow watcher holds at most one pending assignment per plugin, never a queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from portico_rollout.domain.assignment import Assignment, PluginKey


class _Watcher:
    """One watcher's pending changes, newest per plugin."""

    def __init__(self, view: AssignmentView, tenant_id: str, plugin: str) -> None:
        self._view = view
        self.tenant_id = tenant_id
        self.plugin = plugin
        self._pending: dict[str, Assignment] = {}
        self._wake = asyncio.Event()
        self._closed = False

    def current(self) -> list[Assignment]:
        return self._view.of_tenant(self.tenant_id, self.plugin)

    def offer(self, assignment: Assignment) -> None:
        if not self.plugin or assignment.plugin == self.plugin:
            self._pending[assignment.plugin] = assignment
            self._wake.set()

    def close(self) -> None:
        self._closed = True
        self._wake.set()

    async def changes(self) -> list[Assignment] | None:
        while not self._pending:
            if self._closed:
                return None
            self._wake.clear()
            await self._wake.wait()
        changes, self._pending = list(self._pending.values()), {}
        return changes


class AssignmentView:
    """See the module docstring; `built` turns True with the first complete route."""

    def __init__(self) -> None:
        self._by_key: dict[PluginKey, Assignment] = {}
        self._by_tenant: dict[str, dict[str, Assignment]] = {}
        self._watchers: dict[str, set[_Watcher]] = {}
        self._built = False
        self._closed = False

    @property
    def built(self) -> bool:
        return self._built

    def get(self, tenant_id: str, plugin: str) -> Assignment | None:
        return self._by_key.get((tenant_id, plugin))

    def of_tenant(self, tenant_id: str, plugin: str = "") -> list[Assignment]:
        """The tenant's assignments (one plugin's if named), by plugin name."""
        held = self._by_tenant.get(tenant_id, {})
        if plugin:
            found = held.get(plugin)
            return [found] if found is not None else []
        return [held[name] for name in sorted(held)]

    def __len__(self) -> int:
        return len(self._by_key)

    async def route(self, changes: Sequence[Assignment], *, complete: bool = False) -> None:
        for assignment in changes:
            self._apply(assignment)
        if complete:
            self._built = True

    @asynccontextmanager
    async def watch(self, tenant_id: str, plugin: str = "") -> AsyncIterator[_Watcher]:
        watcher = _Watcher(self, tenant_id, plugin)
        if self._closed:
            watcher.close()
        self._watchers.setdefault(tenant_id, set()).add(watcher)
        try:
            yield watcher
        finally:
            watchers = self._watchers.get(tenant_id, set())
            watchers.discard(watcher)
            if not watchers:
                self._watchers.pop(tenant_id, None)

    def close(self) -> None:
        """Ends every watch (the service is stopping); lookups keep working."""
        self._closed = True
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.close()

    async def run(self, stop: asyncio.Event) -> None:
        """A background job: closes the watches once the service stops, so none holds it up."""
        await stop.wait()
        self.close()

    def _apply(self, assignment: Assignment) -> None:
        tenant_id, plugin = assignment.key
        if assignment == Assignment(tenant_id, plugin):
            # Not installed any more: answered as "" exactly as if never seen.
            self._by_key.pop(assignment.key, None)
            held = self._by_tenant.get(tenant_id)
            if held is not None:
                held.pop(plugin, None)
                if not held:
                    del self._by_tenant[tenant_id]
        else:
            self._by_key[assignment.key] = assignment
            self._by_tenant.setdefault(tenant_id, {})[plugin] = assignment
        for watcher in self._watchers.get(tenant_id, ()):
            watcher.offer(assignment)
