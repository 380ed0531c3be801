"""Background jobs: the evaluator's tick (with bucket pruning) and the Prometheus pull."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from functools import partial

from portico_common.metrics import SLO_TICK_EVALUATED, SLO_TICK_TOTAL
from portico_common.places import PlaceLister, each_place
from portico_common.runtime import Background
from portico_slo.app import handlers, pull, version_outcomes
from portico_slo.app.ports import BurnRateGauge, MetricsSource, UnitOfWorkFactory

log = logging.getLogger(__name__)


def upkeep_job(
    uow: UnitOfWorkFactory,
    gauge: BurnRateGauge,
    *,
    refresh_seconds: float,
    prune_seconds: float,
    places: PlaceLister | None = None,
) -> Background:
    """A loop for `serve(background=...)`: judge the SLOs that can change each tick, prune rarely.

    Failures are logged and retried on the next tick: a background task that
    raised would take the whole service down with it. Each pass covers every
    place of slo's rows (`places`: shared tables, bridge schemas, silos).
    """

    async def prune() -> tuple[int, int]:
        return await handlers.prune_buckets(uow), await version_outcomes.prune(uow)

    async def slo_upkeep(stop: asyncio.Event) -> None:
        last_prune: float | None = None
        # Until a tick succeeds, every SLO is judged: the gauge starts with no series.
        first = True
        while not stop.is_set():
            # Pacing uses the event loop's monotonic time; rules read the Clock port.
            if last_prune is None or time.monotonic() - last_prune >= prune_seconds:
                try:
                    done = await each_place(places, prune)
                    pruned = sum(p for p, _ in done)
                    tallies = sum(t for _, t in done)
                    last_prune = time.monotonic()
                    log.info(
                        "outcome buckets pruned", extra={"deleted": pruned, "tallies": tallies}
                    )
                except Exception as exc:  # noqa: BLE001 - retried next tick
                    log.warning("pruning buckets failed", extra={"error": str(exc)})
            try:
                ticks = await each_place(
                    places, partial(handlers.refresh_burn_rates, uow, gauge, everything=first)
                )
                first = False
                SLO_TICK_EVALUATED.set(sum(t.evaluated for t in ticks))
                SLO_TICK_TOTAL.set(sum(t.total for t in ticks))
            except Exception as exc:  # noqa: BLE001 - retried next tick
                log.warning("evaluating SLOs failed", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=refresh_seconds)

    return slo_upkeep


def pull_job(
    uow: UnitOfWorkFactory,
    gauge: BurnRateGauge,
    source: MetricsSource,
    *,
    every_seconds: float,
    lag_seconds: int,
    places: PlaceLister | None = None,
) -> Background:
    """A loop that reads pulled SLIs from their source and judges their SLOs."""

    async def slo_pull(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await each_place(
                    places, lambda: pull.pull_all(uow, gauge, source, lag_seconds=lag_seconds)
                )
            except Exception as exc:  # noqa: BLE001 - retried next round
                log.warning("pulling SLIs failed", extra={"error": str(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_seconds)

    return slo_pull
