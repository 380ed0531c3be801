"""The breakers' tick: resilience4j's scheduler, as a background loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from portico_common.places import PlaceLister, each_place
from portico_common.runtime import Background
from portico_slo.app import breakers
from portico_slo.app.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)


def breaker_job(
    uow: UnitOfWorkFactory, *, every_seconds: float, places: PlaceLister | None = None
) -> Background:
    """A loop for `serve(background=...)`: moves breakers whose wait ended.

    An open breaker with automatic transition goes half-open when its wait
    ends, and a half-open one with a maximum wait leaves half-open, without
    waiting for a report. A full batch is followed at once by the next.
    Failures are logged and retried on the next tick: a background task that
    raised would take the whole service down with it.
    """

    async def slo_breakers(stop: asyncio.Event) -> None:
        while not stop.is_set():
            moved = 0
            try:
                moved = max(
                    await each_place(places, lambda: breakers.tick_breakers(uow)), default=0
                )
            except Exception as exc:  # noqa: BLE001 - retried next tick
                log.warning("moving breakers failed", extra={"error": str(exc)})
            if moved >= breakers.TICK_BATCH:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_seconds)

    return slo_breakers
