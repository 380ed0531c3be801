"""The scheduler: a background loop that judges rollouts whose phase is due.

It reads the Clock port, so a test moving a ManualClock by an hour sees the
next decision on the next tick. Every replica runs it; row locks (SKIP
LOCKED) make them share the work rather than race for it, and each rollout
is handled on its own, so one that fails never blocks another tenant's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from portico_common.clock import Clock
from portico_common.places import PlaceLister, each_place
from portico_common.runtime import Background
from portico_rollout.app.evaluation import SchedulerLimits, evaluate_due_rollouts
from portico_rollout.app.handlers import Defaults
from portico_rollout.app.ports import AdvisorySource, SloSource, UnitOfWorkFactory

log = logging.getLogger(__name__)


def make_scheduler(
    uow: UnitOfWorkFactory,
    slo: SloSource,
    clock: Clock,
    *,
    tick_seconds: float,
    defaults: Defaults,
    limits: SchedulerLimits,
    advisories: AdvisorySource | None = None,
    places: PlaceLister | None = None,
) -> Background:
    """`run_scheduler(stop)`, ticking every `tick_seconds` until `stop` is set.

    Each tick covers every place of rollout's rows (`places`: the shared
    tables, each bridge schema, each silo database).
    """

    async def drain(stop: asyncio.Event) -> None:
        # A full batch means more may be due: take the next one at once.
        while True:
            done = await evaluate_due_rollouts(
                uow,
                slo,
                clock.now(),
                defaults=defaults,
                limits=limits,
                advisories=advisories,
            )
            if done.due - done.failed < limits.batch or stop.is_set():
                break

    async def run_scheduler(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await each_place(places, lambda: drain(stop))
            except Exception as exc:  # noqa: BLE001 - an outage must not end the loop
                log.warning("scheduler tick failed", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=tick_seconds)

    return run_scheduler
