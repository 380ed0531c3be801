"""The approval deadline loop: expires or escalates pending approvals past their deadline.

Reads the Clock port, so a test moving a ManualClock past a deadline sees the
expiry on the next tick. Every replica runs it; SKIP LOCKED shares the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from portico_common.clock import Clock
from portico_common.places import PlaceLister, each_place
from portico_common.runtime import Background
from portico_security.install.app.approvals import expire_due_approvals
from portico_security.install.app.ports import InstallUowFactory

log = logging.getLogger(__name__)


def make_approval_scheduler(
    uow: InstallUowFactory,
    clock: Clock,
    *,
    tick_seconds: float,
    batch: int = 100,
    places: PlaceLister | None = None,
) -> Background:
    """`run(stop)`, sweeping every place (`places`) every `tick_seconds` until `stop` is set."""

    async def run_approval_scheduler(stop: asyncio.Event) -> None:
        async def sweep() -> None:
            # A full batch means more may be due: take the next one at once.
            while await expire_due_approvals(uow, clock.now(), batch) >= batch:
                if stop.is_set():
                    return

        while not stop.is_set():
            try:
                await each_place(places, sweep)
            except Exception as exc:  # noqa: BLE001 - an outage must not end the loop
                log.warning("approval deadline sweep failed", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=tick_seconds)

    return run_approval_scheduler
