"""SLO use cases: define an SLO, read it, and judge reported outcomes against it."""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from portico_common.tenants import ALL_TENANTS, require_tenant_id
from portico_slo.app.ports import BurnRateGauge, SloRecord, UnitOfWorkFactory
from portico_slo.app.validation import ReportedOutcome, check_outcomes, check_plugin_version
from portico_slo.domain.buckets import bucket_key
from portico_slo.domain.burn_rate import Counts, classify, evaluate
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.slo import SloState, SloStatus
from portico_slo.errors import (
    InvalidSloDefinitionError,
    NoSloForVersionError,
    SloAlreadyExistsError,
    SloNotFoundError,
)

log = logging.getLogger(__name__)

# Outcomes are counted in buckets of up to this many seconds: small enough that
# a 5-minute window is 30 buckets, large enough that an hour is only 360 rows.
MAX_BUCKET_SECONDS = 10


@dataclass(frozen=True, slots=True)
class ReportResult:
    """What a report did: how many outcomes it took and where the SLO stands now."""

    slo_id: str
    accepted: int
    short_window_burn_rate: float
    long_window_burn_rate: float
    violated: bool


def bucket_seconds_for(definition: SloDefinition) -> int:
    """The largest bucket up to MAX_BUCKET_SECONDS both alerting windows are whole multiples of."""
    return math.gcd(
        definition.short_window_seconds, definition.long_window_seconds, MAX_BUCKET_SECONDS
    )


async def create_slo(
    uow: UnitOfWorkFactory,
    gauge: BurnRateGauge,
    *,
    tenant_id: str,
    plugin: str,
    version: str,
    objective: float,
    window_seconds: int = 0,
    latency_threshold_ms: int = 0,
    burn_rate_threshold: float = 0.0,
    short_window_seconds: int = 0,
    long_window_seconds: int = 0,
    min_events: int = 0,
) -> SloRecord:
    """Defines the SLO of a plugin version; fields left at 0 take the defaults."""
    require_tenant_id(tenant_id)
    check_plugin_version(plugin, version)
    definition = SloDefinition.with_defaults(
        slo_id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        plugin=plugin,
        version=version,
        objective=objective,
        window_seconds=window_seconds,
        latency_threshold_ms=latency_threshold_ms,
        burn_rate_threshold=burn_rate_threshold,
        short_window_seconds=short_window_seconds,
        long_window_seconds=long_window_seconds,
        min_events=min_events,
    )
    async with uow(tenant_id) as tx:
        slo = SloRecord(
            definition=definition,
            status=SloStatus(slo_id=definition.slo_id),
            bucket_seconds=bucket_seconds_for(definition),
            created_at=tx.clock.now(),
        )
        if not await tx.slos.add(slo):
            existing = await tx.slos.find(tenant_id, plugin, version)
            raise SloAlreadyExistsError(existing.slo_id if existing else f"for {plugin}@{version}")
    gauge.set(definition, 0.0, 0.0)
    return slo


async def get_slo(
    uow: UnitOfWorkFactory, gauge: BurnRateGauge, *, tenant_id: str, slo_id: str
) -> SloRecord:
    """An SLO with its burn rates computed now (not as of the last report)."""
    require_tenant_id(tenant_id)
    if not slo_id:
        raise InvalidSloDefinitionError("slo_id", "must not be empty")
    async with uow(tenant_id) as tx:
        slo = await tx.slos.get(tenant_id, slo_id)
        if slo is None:
            raise SloNotFoundError(slo_id)
        now = tx.clock.now()
        short, long = await tx.buckets.window_counts(slo, now)
    evaluation = evaluate(slo.definition, short, long)
    gauge.set(slo.definition, evaluation.short_burn, evaluation.long_burn)
    return replace(
        slo,
        short_window_burn_rate=evaluation.short_burn,
        long_window_burn_rate=evaluation.long_burn,
        evaluated_at=now,
    )


async def report_outcomes(
    uow: UnitOfWorkFactory,
    gauge: BurnRateGauge,
    *,
    tenant_id: str,
    plugin: str,
    version: str,
    outcomes: Sequence[ReportedOutcome],
) -> ReportResult:
    """Counts outcomes and evaluates the burn-rate rule; a trip emits slo.violated at once.

    Counting, evaluating, the state change and the event are one transaction,
    with the SLO row locked, so a violation is emitted exactly once however
    many reports race, and never without the state that explains it.
    """
    require_tenant_id(tenant_id)
    check_plugin_version(plugin, version)
    check_outcomes(outcomes)
    async with uow(tenant_id) as tx:
        slo = await tx.slos.lock(tenant_id, plugin, version)
        if slo is None:
            raise NoSloForVersionError(plugin, version)
        definition = slo.definition
        good = sum(
            classify(o.success, o.latency_ms, definition.latency_threshold_ms) for o in outcomes
        )
        now = tx.clock.now()
        await tx.buckets.add(
            tenant_id,
            slo.slo_id,
            {bucket_key(now, slo.bucket_seconds): Counts(good=good, bad=len(outcomes) - good)},
        )
        short, long = await tx.buckets.window_counts(slo, now)
        evaluation = evaluate(definition, short, long)
        violations = slo.status.observe(definition, evaluation, now)
        await tx.slos.save(
            replace(
                slo,
                short_window_burn_rate=evaluation.short_burn,
                long_window_burn_rate=evaluation.long_burn,
                evaluated_at=now,
            )
        )
        await tx.publish(violations)
    gauge.set(definition, evaluation.short_burn, evaluation.long_burn)
    for violation in violations:
        log.warning(
            "slo violated",
            extra={
                "tenant": violation.tenant_id,
                "slo_id": violation.slo_id,
                "plugin": violation.plugin,
                "version": violation.version,
                "rule": violation.rule,
                "short_burn": violation.short_window_burn_rate,
                "long_burn": violation.long_window_burn_rate,
            },
        )
    return ReportResult(
        slo_id=slo.slo_id,
        accepted=len(outcomes),
        short_window_burn_rate=evaluation.short_burn,
        long_window_burn_rate=evaluation.long_burn,
        violated=slo.status.state is SloState.VIOLATED,
    )


async def refresh_burn_rates(uow: UnitOfWorkFactory, gauge: BurnRateGauge) -> int:
    """Recomputes every SLO's burn rates now, so a version without traffic decays to 0."""
    async with uow(ALL_TENANTS) as tx:
        rows = await tx.buckets.all_window_counts(tx.clock.now())
    for slo, short, long in rows:
        evaluation = evaluate(slo.definition, short, long)
        gauge.set(slo.definition, evaluation.short_burn, evaluation.long_burn)
    return len(rows)


async def prune_buckets(uow: UnitOfWorkFactory) -> int:
    """Deletes buckets older than every SLO's long window; returns how many."""
    async with uow(ALL_TENANTS) as tx:
        return await tx.buckets.prune(tx.clock.now())
