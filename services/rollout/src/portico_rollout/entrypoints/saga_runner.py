"""The saga runner: a background loop that finishes rollback sagas after their first step.

Traffic goes back in the transaction of the rollback; finding and rolling back
the dependents asks compat, so it runs here, on every replica (row locks make
them share the work). It reads the Clock port, like the scheduler. Each pass
takes the sagas whose next step is due, within `SagaLimits`; a step that
fails backs off on its own row (`app.dependents`), so an outage costs one
attempt per step per backoff, not one per tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from portico_common.clock import Clock
from portico_common.places import PlaceLister, each_place
from portico_common.runtime import Background
from portico_rollout.app.dependents import advance_sagas
from portico_rollout.app.ports import AdvisorySource, DependencyGraph, UnitOfWorkFactory
from portico_rollout.app.saga_limits import SagaLimits

log = logging.getLogger(__name__)


def make_saga_runner(
    uow: UnitOfWorkFactory,
    graph: DependencyGraph | None,
    clock: Clock,
    *,
    tick_seconds: float,
    limits: SagaLimits,
    advisories: AdvisorySource | None = None,
    places: PlaceLister | None = None,
) -> Background:
    """`run_sagas(stop)`, one pass over every place every `tick_seconds` until `stop` is set."""

    async def run_sagas(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await each_place(
                    places,
                    lambda: advance_sagas(
                        uow, graph, clock.now(), limits=limits, advisories=advisories
                    ),
                )
            except Exception as exc:  # noqa: BLE001 - an outage must not end the loop
                log.warning("saga pass failed", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=tick_seconds)

    return run_sagas
