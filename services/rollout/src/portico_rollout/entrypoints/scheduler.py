"""The scheduler: a background loop that advances rollouts whose phase has baked.

It reads the Clock port, so a test moving a ManualClock by an hour sees the
next phase on the next tick. Every replica runs it; row locks (SKIP LOCKED)
make them share the work rather than race for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from portico_common.clock import Clock
from portico_common.runtime import Background
from portico_rollout.app import handlers
from portico_rollout.app.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)


def make_scheduler(
    uow: UnitOfWorkFactory, clock: Clock, *, tick_seconds: float, batch: int
) -> Background:
    """`run_scheduler(stop)`, ticking every `tick_seconds` until `stop` is set."""

    async def run_scheduler(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                # A full batch means more may be due: take the next one at once.
                while await handlers.advance_due_rollouts(uow, clock.now(), limit=batch) >= batch:
                    if stop.is_set():
                        return
            except Exception as exc:  # noqa: BLE001 - an outage must not end the loop
                log.warning("scheduler tick failed", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=tick_seconds)

    return run_scheduler
