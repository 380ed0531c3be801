"""What tenancy's background loops share: a pass every interval, retried on failure."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sized
from datetime import timedelta

log = logging.getLogger(__name__)


class PeriodicPass(ABC):
    """A background loop of `serve` that runs `tick` every `interval`; tests call `tick`."""

    #: What the log says when a pass fails (the next pass retries).
    failure = "a periodic pass failed"

    def __init__(self, name: str, interval: timedelta) -> None:
        self.__name__ = name
        self._interval = interval.total_seconds()

    @abstractmethod
    async def tick(self) -> int:
        """One pass; how many things it did."""

    async def __call__(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                # The next pass retries; a database outage must not end the loop.
                log.exception(self.failure)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)


async def drain(batch_of: Callable[[int], Awaitable[Sized]], batch: int) -> int:
    """Runs `batch_of(batch)` until a batch comes back short (a backlog drains in one pass)."""
    total = 0
    while True:
        done = len(await batch_of(batch))
        total += done
        if done < batch:
            return total
