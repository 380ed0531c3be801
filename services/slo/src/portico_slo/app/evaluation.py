"""Judging an SLO: sum its windows, evaluate its tiers, record what changed, push events.

The same steps serve a report (push), a pull from Prometheus and the
evaluator's tick, so pushed and pulled SLIs are judged alike. They run inside
the caller's transaction with the SLO locked, so a violation is recorded
(with its evidence) and queued for the outbox in the transaction that
decides it, exactly once however many evaluations race.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from dataclasses import dataclass, replace
from datetime import datetime

from portico_common.tenants import ALL_TENANTS
from portico_slo.app.ports import (
    ActiveSummaries,
    BurnRateGauge,
    SloRecord,
    SloUnitOfWork,
    TierBurn,
    UnitOfWorkFactory,
)
from portico_slo.domain.buckets import window_span
from portico_slo.domain.burn_rate import Evaluation, WindowSummary, evaluate
from portico_slo.domain.events import SloEvent, SloRecovered, SloViolated
from portico_slo.domain.slo import SloState

log = logging.getLogger(__name__)

# The tick judges the active SLOs of every tenant in one process; it hands the event
# loop back this often, so the RPCs the process serves (a tenant reading its
# SLOs) wait for at most this many evaluations, not for all of them.
EVALUATIONS_PER_YIELD = 25


@dataclass(frozen=True, slots=True)
class Judged:
    """An SLO after an evaluation, and the events it emitted."""

    slo: SloRecord
    evaluation: Evaluation
    events: list[SloEvent]


async def window_summaries(
    tx: SloUnitOfWork, slo: SloRecord, now: datetime
) -> dict[int, WindowSummary]:
    windows = slo.definition.alerting.windows
    spans = [window_span(now, w, slo.bucket_seconds) for w in windows]
    return dict(zip(windows, await tx.buckets.summaries(slo, spans), strict=True))


def with_evaluation(slo: SloRecord, evaluation: Evaluation, now: datetime) -> SloRecord:
    return replace(
        slo,
        short_window_burn_rate=evaluation.short_burn,
        long_window_burn_rate=evaluation.long_burn,
        evaluated_at=now,
        tier_burns=tuple(
            TierBurn(t.tier.name, t.short_burn, t.long_burn) for t in evaluation.tiers
        ),
    )


async def judge(tx: SloUnitOfWork, slo: SloRecord, now: datetime) -> Judged:
    """Evaluate a locked SLO now; store the result and the evidence, queue the events."""
    evaluation = evaluate(slo.definition, await window_summaries(tx, slo, now))
    events = slo.status.observe(slo.definition, evaluation, now)
    judged = with_evaluation(slo, evaluation, now)
    await tx.slos.save(judged)
    for event in events:
        if isinstance(event, SloViolated):
            await tx.violations.record(event)
        else:
            await tx.violations.resolve(event)
    await tx.publish(events)
    return Judged(judged, evaluation, events)


def log_events(events: list[SloEvent]) -> None:
    for event in events:
        fields = {
            "tenant": event.tenant_id,
            "slo_id": event.slo_id,
            "plugin": event.plugin,
            "version": event.version,
            "tier": event.tier,
        }
        if isinstance(event, SloRecovered):
            log.info("slo recovered", extra=fields | {"slo_ok": event.slo_ok})
        else:
            log.warning(
                "slo violated",
                extra=fields
                | {
                    "rule": event.rule,
                    "short_burn": event.short_window_burn_rate,
                    "long_burn": event.long_window_burn_rate,
                },
            )


def would_change(slo: SloRecord, evaluation: Evaluation, now: datetime) -> bool:
    """Whether judging the SLO now would change its tiers (on a copy of its status)."""
    if not slo.status.tiers and slo.status.state is SloState.OK and not evaluation.tripped:
        return False  # nothing fires and nothing starts: the common case, decided cheaply
    status = copy.deepcopy(slo.status)
    events = status.observe(slo.definition, evaluation, now)
    return (
        bool(events)
        or status.tiers.keys() != slo.status.tiers.keys()
        or any(
            status.tiers[name].state is not slo.status.tiers[name].state for name in status.tiers
        )
    )


@dataclass(frozen=True, slots=True)
class Tick:
    """What one tick did: how many SLOs it judged, of how many there are."""

    evaluated: int
    total: int


async def evaluate_all(
    uow: UnitOfWorkFactory, gauge: BurnRateGauge, *, everything: bool = False
) -> Tick:
    """The evaluator's tick: judge every SLO a tick can change now.

    Windows slide without new outcomes: a burn stops (the SLO recovers and is
    armed again) and gauges decay to 0 after a version stops getting traffic.
    One read covers every SLO that can change: those with outcomes in their
    longest window, those not OK or with a tier pending or firing (to recover
    as the windows slide) and those whose gauge was left above 0 (to fall to
    0 once). Judging any other SLO would only set its gauge to 0 again, so it
    is skipped. Only those whose tiers change are locked and judged again in
    their tenant's transaction, which records and emits.

    `everything` judges every SLO instead: a process's first tick, whose gauge
    has no series yet, so that an idle SLO shows its 0 (a dashboard tells a
    quiet SLO from a missing one) rather than nothing until its next outcome.
    """
    async with uow(ALL_TENANTS) as tx:
        now = tx.clock.now()
        if everything:
            every = await tx.buckets.all_summaries(now)
            active = ActiveSummaries(every, len(every))
        else:
            active = await tx.buckets.active_summaries(now, gauge.burning())
    changing = []
    for index, (slo, windows) in enumerate(active.rows):
        if index and index % EVALUATIONS_PER_YIELD == 0:
            await asyncio.sleep(0)
        evaluation = evaluate(slo.definition, windows)
        gauge.set(slo.definition, evaluation.short_burn, evaluation.long_burn)
        if would_change(slo, evaluation, now):
            changing.append(slo)
    for slo in changing:
        async with uow(slo.tenant_id) as tx:
            locked = await tx.slos.lock(slo.tenant_id, slo.slo_id)
            if locked is None:
                continue  # deleted since the read
            judged = await judge(tx, locked, tx.clock.now())
        gauge.set(slo.definition, judged.evaluation.short_burn, judged.evaluation.long_burn)
        log_events(judged.events)
    return Tick(len(active.rows), active.total)
