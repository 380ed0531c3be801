"""Keeps every traffic router in step with the database, as rollout's events announce changes.

An event says only *which* plugin may have changed; what it changed to is
read back from the database, which committed before the event was
published. So a duplicate, a late or a reordered event can never move a
router backwards, and a forged one costs a read and changes nothing. The
whole picture is read at start (until then the view answers nothing), after
the feed reports a gap (a reconnect), and every `resync_seconds` as a safety
net against a message lost without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from portico_rollout.app.assignments import AssignmentReader, ChangeFeed, Ended, TrafficRouter
from portico_rollout.domain.assignment import Assignment, PluginKey

log = logging.getLogger(__name__)

# Backoff after a failed read: doubles from the first value up to the last.
_RETRY_SECONDS = (0.05, 2.0)
# How soon a router that failed gets every assignment again.
_BEHIND_RETRY_SECONDS = 5.0


class AssignmentSync:
    """Reads changed assignments back and routes them; see the module docstring."""

    def __init__(
        self,
        reader: AssignmentReader,
        feed: ChangeFeed,
        routers: Sequence[TrafficRouter],
        *,
        resync_seconds: float = 60.0,
    ) -> None:
        self._reader = reader
        self._feed = feed
        self._routers = list(routers)
        self._resync = resync_seconds
        self._known: dict[PluginKey, Assignment] = {}
        self._pending: set[PluginKey] = set()
        # Rollouts that ended, applied before anything is read back.
        self._ended: dict[PluginKey, list[Ended]] = {}
        self._rebuild = True
        # Routers whose last route failed: the next rebuild gives them everything.
        self._behind: set[int] = set()
        self._wake = asyncio.Event()
        self.built = asyncio.Event()

    # -- what the feed calls ---------------------------------------------------------

    def changed(self, tenant_id: str, plugin: str, ended: Ended | None = None) -> None:
        """An event for this plugin arrived: read it back on the next step.

        If the event ended a rollout, that is applied first, without a read.
        """
        key = (tenant_id, plugin)
        if ended is not None:
            self._ended.setdefault(key, []).append(ended)
        self._pending.add(key)
        self._wake.set()

    def gap(self) -> None:
        """Events may have been missed: read everything on the next step."""
        self._rebuild = True
        self._wake.set()

    # -- one step, and the loop ------------------------------------------------------

    async def step(self) -> int:
        """Reads back what is due (everything, or the plugins named); returns changes routed."""
        if self._rebuild:
            self._ended.clear()
            return await self._rebuild_all()
        routed = await self._apply_ended()
        if not self._pending:
            return routed
        keys, self._pending = self._pending, set()
        try:
            found = {a.key: a for a in await self._reader.of(keys)}
        except BaseException:
            self._pending |= keys
            raise
        changes = []
        for key in keys:
            fresh = found.get(key) or Assignment(*key)
            if fresh != self._known.get(key, Assignment(*key)):
                changes.append(fresh)
                self._remember(fresh)
        await self._route(changes)
        return routed + len(changes)

    async def run(self, stop: asyncio.Event) -> None:
        """Follows the feed until `stop` is set; a failed read is retried with backoff."""
        async with self._feed.subscribe(self.changed, self.gap):
            delay = _RETRY_SECONDS[0]
            while not stop.is_set():
                self._wake.clear()
                try:
                    await self.step()
                    delay = _RETRY_SECONDS[0]
                except Exception as exc:  # noqa: BLE001 - an outage must not end the loop
                    log.warning("assignments not read back", extra={"error": str(exc)})
                    await _sleep_or_stop(stop, delay)
                    delay = min(delay * 2, _RETRY_SECONDS[1])
                    continue
                if self._pending or self._rebuild:
                    continue
                # A router that failed is retried sooner than the safety-net resync.
                wait = min(self._resync, _BEHIND_RETRY_SECONDS) if self._behind else self._resync
                if not await _wait_either(self._wake, stop, wait):
                    self._rebuild = True

    # -- internals -------------------------------------------------------------------

    async def _apply_ended(self) -> int:
        if not self._ended:
            return 0
        ended, self._ended = self._ended, {}
        changes = []
        for key, news in ended.items():
            known = self._known.get(key)
            if known is None:
                continue
            after = known
            for end in news:
                after = after.ended(end.rollout_id, end.stable_version)
            if after != known:
                changes.append(after)
                self._remember(after)
        await self._route(changes)
        return len(changes)

    async def _rebuild_all(self) -> int:
        # Cleared before the read: an event arriving during it names a change the
        # read may have missed, and is read back on the next step.
        self._rebuild = False
        self._pending.clear()
        try:
            current = {a.key: a for a in await self._reader.all()}
        except BaseException:
            self._rebuild = True
            raise
        changes = [a for key, a in current.items() if self._known.get(key) != a]
        # A plugin that vanished (its rows deleted) is routed as not installed.
        changes += [Assignment(*key) for key in self._known.keys() - current.keys()]
        first = not self.built.is_set()
        behind, self._behind = self._behind, set()
        self._known = current
        everything = list(current.values())
        for index, router in enumerate(self._routers):
            wanted = everything if index in behind else changes
            await self._route_one(index, router, wanted, complete=first)
        self.built.set()
        return len(changes)

    async def _route(self, changes: list[Assignment]) -> None:
        if changes:
            for index, router in enumerate(self._routers):
                await self._route_one(index, router, changes, complete=False)

    async def _route_one(
        self, index: int, router: TrafficRouter, changes: list[Assignment], *, complete: bool
    ) -> None:
        if not changes and not complete:
            return
        try:
            await router.route(changes, complete=complete)
        except Exception as exc:  # noqa: BLE001 - one router failing must not hold the others
            log.warning(
                "traffic router failed; it gets every assignment again shortly",
                extra={"router": type(router).__name__, "error": str(exc)},
            )
            self._behind.add(index)

    def _remember(self, assignment: Assignment) -> None:
        if assignment == Assignment(*assignment.key):
            self._known.pop(assignment.key, None)
        else:
            self._known[assignment.key] = assignment


async def _wait_either(event: asyncio.Event, stop: asyncio.Event, seconds: float) -> bool:
    """Waits for `event` or `stop`; False if neither came within `seconds`."""
    waiters = {asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait())}
    done, pending = await asyncio.wait(
        waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
    )
    for waiter in pending:
        waiter.cancel()
    return bool(done)


async def _sleep_or_stop(stop: asyncio.Event, delay: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay)
