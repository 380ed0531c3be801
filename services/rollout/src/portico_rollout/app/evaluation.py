"""The scheduler's step: judge every due rollout on evidence, fairly across tenants.

Due rollouts are listed without locks, at most a few per tenant per pass,
then each is handled on its own: the evidence is fetched from slo outside
any transaction, and the decision is taken in the rollout's own tenant
transaction on the row locked then (SKIP LOCKED: another replica holding it
owns it). One rollout failing (slo unreachable, a corrupt row, a conflict)
is logged and deferred; it never stops the others, of its tenant or any
other. Each rollout is handled in a span of its own, so the events it emits
carry a traceparent.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from opentelemetry.trace import SpanKind

from portico_common.tenants import ALL_TENANTS
from portico_common.tracing import span_from
from portico_rollout.app.handlers import Defaults, commit
from portico_rollout.app.ports import AdvisorySource, SloSource, UnitOfWorkFactory
from portico_rollout.domain.evidence import Evidence
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState

log = logging.getLogger(__name__)

# A judgment's samples: the window in about this many intervals unless it says otherwise.
TARGET_INTERVALS = 30
# slo serves ranges of at most a week.
MAX_WINDOW = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class SchedulerLimits:
    """How much one pass takes on, and how long a failed rollout waits before the next try."""

    batch: int = 100
    per_tenant: int = 10
    retry_seconds: int = 10


@dataclass
class Pass:
    """What one pass did."""

    due: int = 0
    failed: int = 0


async def evaluate_due_rollouts(
    uow: UnitOfWorkFactory,
    slo: SloSource,
    now: datetime,
    *,
    defaults: Defaults | None = None,
    limits: SchedulerLimits | None = None,
    advisories: AdvisorySource | None = None,
) -> Pass:
    """Handles every rollout due by `now` (up to the batch); how many were due, how many failed."""
    defaults = defaults or Defaults()
    limits = limits or SchedulerLimits()
    async with uow(ALL_TENANTS) as scan:
        due = await scan.rollouts.due(now, limits.batch, limits.per_tenant)
    done = Pass(due=len(due))
    for tenant_id, rollout_id in due:
        with span_from({}, "rollout.scheduler.evaluate", kind=SpanKind.INTERNAL) as span:
            span.set_attribute("portico.tenant_id", tenant_id)
            span.set_attribute("portico.rollout_id", rollout_id)
            try:
                await evaluate_rollout(
                    uow,
                    slo,
                    tenant_id,
                    rollout_id,
                    now=now,
                    defaults=defaults,
                    advisories=advisories,
                )
            except Exception as exc:  # noqa: BLE001 - one rollout must not stop the others
                done.failed += 1
                log.warning(
                    "rollout evaluation failed; deferred",
                    extra={"tenant_id": tenant_id, "rollout_id": rollout_id, "error": str(exc)},
                )
                await _defer(uow, tenant_id, rollout_id, now, limits.retry_seconds)
    return done


async def evaluate_rollout(
    uow: UnitOfWorkFactory,
    slo: SloSource,
    tenant_id: str,
    rollout_id: str,
    *,
    now: datetime,
    defaults: Defaults,
    advisories: AdvisorySource | None = None,
) -> None:
    """Decides on one due rollout: its gate's deadline, its phase on fresh evidence, the
    next step of its gradual rollback, or (completed) the rollback requested of it.

    The stable version's critical advisories are read again first, so a
    rollback this decision makes knows whether it may go back onto it.
    """
    async with uow(tenant_id) as tx:
        seen = await tx.rollouts.get(tenant_id, rollout_id)
    if seen is None or (due := seen.due_at()) is None or now < due:
        return
    # Stepping a gradual rollback down, or deciding a completed rollout's requested
    # rollback, needs no evidence: only the stable version's advisories.
    stepping = seen.state in (RolloutState.ROLLING_BACK, RolloutState.COMPLETED)
    evidence = None if seen.awaiting_approval or stepping else await fetch_evidence(slo, seen, now)
    critical = None
    if advisories is not None and seen.stable_version:
        critical = await advisories.critical(tenant_id, seen.plugin, seen.stable_version)
    async with uow(tenant_id) as tx:
        rollout = await tx.rollouts.lock(tenant_id, rollout_id)
        if rollout is None or (rollout.phase_index, rollout.phase_started_at) != (
            seen.phase_index,
            seen.phase_started_at,
        ):
            return  # another replica holds it, or it moved on since the evidence was read
        if critical is not None:
            rollout.note_stable_advisories(critical, now)
        if rollout.state is RolloutState.ROLLING_BACK:
            events = rollout.step_down(now)
        elif rollout.state is RolloutState.COMPLETED:
            events = rollout.finish_completed_rollback(now)
        elif rollout.awaiting_approval:
            events = rollout.on_gate_time(now)
        elif evidence is not None:
            events = rollout.evaluate(
                now,
                evidence,
                recheck_seconds=defaults.recheck_seconds,
                sample_recheck_seconds=defaults.sample_recheck_seconds,
            )
        else:  # pragma: no cover - a gate was opened between the two reads
            return
        if events or rollout.to_row() != seen.to_row():
            await commit(tx, rollout, events, now)


def _whole_second_at_or_after(moment: datetime) -> datetime:
    floor = moment.replace(microsecond=0)
    return floor if floor == moment else floor + timedelta(seconds=1)


async def fetch_evidence(slo: SloSource, rollout: Rollout, now: datetime) -> Evidence:
    """The canary's and the stable version's outcomes over the current phase so far."""
    started = rollout.phase_started_at or now
    start = max(started, now - MAX_WINDOW).replace(microsecond=0)
    # Outcomes are tallied per whole second and a window is [start, end): ending at
    # now rounded up to a whole second counts what was reported in the current one,
    # so a short bake is not judged on fewer samples than were reported before it ended.
    end = max(_whole_second_at_or_after(now), start + timedelta(seconds=1))
    judgment = rollout.phase.criteria.judgment
    window = (end - start).total_seconds()
    step = (judgment.interval_seconds if judgment else 0) or max(
        1, math.ceil(window / TARGET_INTERVALS)
    )
    versions = [rollout.version, *([rollout.stable_version] if rollout.stable_version else [])]
    found = await slo.outcomes(
        rollout.tenant_id, rollout.plugin, versions, start=start, end=end, step_seconds=step
    )
    canary = found[0]
    baseline = found[1] if len(found) > 1 else None
    return Evidence(window_start=start, window_end=end, canary=canary, baseline=baseline)


async def _defer(
    uow: UnitOfWorkFactory, tenant_id: str, rollout_id: str, now: datetime, seconds: int
) -> None:
    try:
        async with uow(tenant_id) as tx:
            await tx.rollouts.defer(tenant_id, rollout_id, now + timedelta(seconds=seconds))
    except Exception as exc:  # noqa: BLE001 - the next pass tries again anyway
        log.warning(
            "could not defer a rollout", extra={"rollout_id": rollout_id, "error": str(exc)}
        )
