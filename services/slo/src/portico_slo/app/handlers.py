"""SLO use cases: define, read, change, list and delete SLOs, and judge reported outcomes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from portico_common.tenants import ALL_TENANTS, require_tenant_id
from portico_slo.app import breakers, version_outcomes
from portico_slo.app.evaluation import (
    Judged,
    Tick,
    evaluate_all,
    judge,
    log_events,
    window_summaries,
    with_evaluation,
)
from portico_slo.app.ports import BurnRateGauge, SloFilter, SloRecord, UnitOfWorkFactory
from portico_slo.app.validation import (
    ReportedOutcome,
    as_batch,
    check_name,
    check_plugin,
    check_plugin_version,
    check_version,
)
from portico_slo.domain.batch import OutcomeBatch
from portico_slo.domain.burn_rate import evaluate
from portico_slo.domain.ingest import (
    DEFAULT_MAX_LATENESS_SECONDS,
    DEFAULT_MAX_SKEW_SECONDS,
    OutcomeResult,
)
from portico_slo.domain.objective import SloDefinition, bucket_seconds_for
from portico_slo.domain.scope import Scope
from portico_slo.domain.slo import SloState, SloStatus
from portico_slo.domain.templates import SloSpec
from portico_slo.errors import (
    InvalidSloDefinitionError,
    NoSloForVersionError,
    SloAlreadyExistsError,
    SloNotFoundError,
    SloUpdateRefusedError,
)

__all__ = [
    "ReportResult",
    "bucket_seconds_for",
    "create_slo",
    "delete_slo",
    "get_slo",
    "list_slos",
    "prune_buckets",
    "refresh_burn_rates",
    "report_outcomes",
    "update_slo",
]

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class ReportResult:
    """What a report did: which outcomes it took, and where its SLOs stand now.

    The flat fields describe the primary SLO: the version's own, else the
    first that counted the outcomes.
    """

    slo_id: str
    accepted: int
    short_window_burn_rate: float
    long_window_burn_rate: float
    violated: bool
    results: tuple[OutcomeResult, ...] = ()
    judged: tuple[SloRecord, ...] = ()

    @property
    def refused(self) -> int:
        return len(self.results) - self.results.count(OutcomeResult.ACCEPTED)


async def create_slo(
    uow: UnitOfWorkFactory,
    gauge: BurnRateGauge,
    *,
    tenant_id: str,
    plugin: str,
    version: str,
    objective: float = 0.0,
    window_seconds: int = 0,
    latency_threshold_ms: int = 0,
    burn_rate_threshold: float = 0.0,
    short_window_seconds: int = 0,
    long_window_seconds: int = 0,
    min_events: int = 0,
    rollout_id: str = "",
    spec: SloSpec | None = None,
) -> SloRecord:
    """Defines an SLO: from `spec` when given, else from the classic fields (0 = default)."""
    require_tenant_id(tenant_id)
    scope = _scope(plugin, version, rollout_id)
    slo_id = str(uuid.uuid4())
    if spec is not None:
        definition = spec.definition(slo_id, tenant_id, scope)
    else:
        classic = SloDefinition.with_defaults(
            slo_id=slo_id,
            tenant_id=tenant_id,
            plugin=plugin,
            version=version or "-",
            objective=objective,
            window_seconds=window_seconds,
            latency_threshold_ms=latency_threshold_ms,
            burn_rate_threshold=burn_rate_threshold,
            short_window_seconds=short_window_seconds,
            long_window_seconds=long_window_seconds,
            min_events=min_events,
        )
        definition = replace(classic, scope=scope, name="")
    return await store_new(uow, gauge, definition)


async def store_new(
    uow: UnitOfWorkFactory, gauge: BurnRateGauge, definition: SloDefinition
) -> SloRecord:
    """Stores a validated definition as a new SLO, OK and without counts."""
    async with uow(definition.tenant_id) as tx:
        slo = SloRecord(
            definition=definition,
            status=SloStatus(slo_id=definition.slo_id),
            bucket_seconds=bucket_seconds_for(definition),
            created_at=tx.clock.now(),
        )
        if not await tx.slos.add(slo):
            existing = await tx.slos.by_name(definition.tenant_id, definition.name)
            raise SloAlreadyExistsError(existing.slo_id if existing else f"named {definition.name}")
        # A version's SLO brings its circuit breaker, in the same transaction.
        await breakers.ensure_for_slo(tx, definition)
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
        windows = await window_summaries(tx, slo, now)
    evaluation = evaluate(slo.definition, windows)
    gauge.set(slo.definition, evaluation.short_burn, evaluation.long_burn)
    return with_evaluation(slo, evaluation, now)


async def update_slo(
    uow: UnitOfWorkFactory,
    gauge: BurnRateGauge,
    *,
    tenant_id: str,
    slo_id: str,
    spec: SloSpec,
) -> SloRecord:
    """Replaces an SLO's spec and judges it at once under the new one.

    The scope stays (the counts belong to it), and the bucket size too: new
    windows must be whole numbers of the buckets already counted.
    """
    require_tenant_id(tenant_id)
    if not slo_id:
        raise InvalidSloDefinitionError("slo_id", "must not be empty")
    async with uow(tenant_id) as tx:
        slo = await tx.slos.lock(tenant_id, slo_id)
        if slo is None:
            raise SloNotFoundError(slo_id)
        name = spec.name or slo.definition.name
        # An imported SLO keeps its OpenSLO document, so it exports with the change.
        kept = replace(spec, openslo=spec.openslo or slo.definition.openslo)
        definition = kept.definition(slo_id, tenant_id, slo.definition.scope, name=name)
        misfits = [w for w in definition.alerting.windows if w % slo.bucket_seconds]
        if misfits or (
            definition.timeslice_seconds and definition.timeslice_seconds != slo.bucket_seconds
        ):
            raise SloUpdateRefusedError(
                f"its outcomes are counted in {slo.bucket_seconds}s buckets, which the new "
                f"windows {misfits or [definition.timeslice_seconds]} do not fit; create a new SLO"
            )
        if name != slo.definition.name:
            taken = await tx.slos.by_name(tenant_id, name)
            if taken is not None:
                raise SloAlreadyExistsError(taken.slo_id)
        updated = replace(slo, definition=definition)
        await tx.slos.update(updated)
        judged = await judge(tx, updated, tx.clock.now())
    _publish(gauge, judged)
    return judged.slo


async def delete_slo(uow: UnitOfWorkFactory, *, tenant_id: str, slo_id: str) -> None:
    require_tenant_id(tenant_id)
    if not slo_id:
        raise InvalidSloDefinitionError("slo_id", "must not be empty")
    async with uow(tenant_id) as tx:
        if not await tx.slos.delete(tenant_id, slo_id):
            raise SloNotFoundError(slo_id)


async def list_slos(
    uow: UnitOfWorkFactory,
    *,
    tenant_id: str,
    where: SloFilter,
    page_size: int = 0,
    page_token: str = "",
) -> tuple[list[SloRecord], str]:
    """A page of SLOs by name and the token of the next page ("" on the last)."""
    require_tenant_id(tenant_id)
    if page_size > MAX_PAGE_SIZE:
        raise InvalidSloDefinitionError("page_size", f"{page_size} is above {MAX_PAGE_SIZE}")
    size = page_size or DEFAULT_PAGE_SIZE
    async with uow(tenant_id) as tx:
        # One more than asked says whether a next page exists.
        found = await tx.slos.page(tenant_id, where, after=page_token, limit=size + 1)
    page = found[:size]
    return page, page[-1].definition.name if len(found) > size else ""


async def report_outcomes(
    uow: UnitOfWorkFactory,
    gauge: BurnRateGauge,
    *,
    tenant_id: str,
    plugin: str,
    version: str,
    outcomes: Sequence[ReportedOutcome] | OutcomeBatch,
    rollout_id: str = "",
    max_lateness_seconds: int = DEFAULT_MAX_LATENESS_SECONDS,
    max_skew_seconds: int = DEFAULT_MAX_SKEW_SECONDS,
) -> ReportResult:
    """Counts outcomes for every pushed SLO they fall in, judging each; may emit at once.

    Each outcome lands in the bucket of its own time (late ones too, within
    the lateness allowance); too-late and too-early ones are refused one by
    one and counted on the SLOs. Counting, evaluating, the state change and
    the events are one transaction, with the SLOs locked in id order. The
    version's circuit breaker, if it has one, is fed the same accepted
    outcomes in that transaction (locked after the SLOs); a version with a
    breaker and no SLO is judged by its breaker alone. The accepted outcomes
    are also tallied per version in that transaction, for the canary judge.
    The outcomes are grouped by second before the transaction opens, so the
    locks are held for work per second and per SLO, not per outcome (the
    breaker's, which is per call, aside).
    """
    require_tenant_id(tenant_id)
    check_plugin_version(plugin, version)
    if rollout_id:
        check_name("rollout_id", rollout_id)
    grouped = as_batch(outcomes).group()
    async with uow(tenant_id) as tx:
        found = await tx.slos.matching(tenant_id, plugin, version, rollout_id, lock=True)
        slos = [s for s in found if not s.definition.indicator.pulled]
        breaker = await tx.breakers.for_version(tenant_id, plugin, version, lock=True)
        if not slos and breaker is None:
            raise NoSloForVersionError(plugin, version)
        now = tx.clock.now()
        accepted = grouped.accept(now, max_lateness_seconds, max_skew_seconds)
        refused = accepted.refused
        judged: list[Judged] = []
        for slo in slos:
            counts = accepted.counts(slo.definition.indicator, slo.bucket_seconds)
            if counts:
                await tx.buckets.add(tenant_id, slo.slo_id, counts)
            if refused:
                await tx.slos.count_refused(tenant_id, slo.slo_id, refused)
            judged.append(await judge(tx, slo, now))
        # The canary judge compares versions on these (version_outcomes.series).
        await version_outcomes.record(tx, tenant_id, plugin, version, accepted)
        if breaker is not None:
            await breakers.record_outcomes(tx, breaker, accepted, now)
    for each in judged:
        _publish(gauge, each)
    results = accepted.results
    if not judged:
        return ReportResult("", accepted.count, 0.0, 0.0, violated=False, results=results)
    primary = _primary(judged, version, rollout_id)
    return ReportResult(
        slo_id=primary.slo.slo_id,
        accepted=accepted.count,
        short_window_burn_rate=primary.evaluation.short_burn,
        long_window_burn_rate=primary.evaluation.long_burn,
        violated=primary.slo.status.state is SloState.VIOLATED,
        results=results,
        judged=tuple(j.slo for j in judged),
    )


def _primary(judged: list[Judged], version: str, rollout_id: str) -> Judged:
    for each in judged:
        scope = each.slo.definition.scope
        if scope.version == version and scope.rollout_id == rollout_id:
            return each
    return judged[0]


def _publish(gauge: BurnRateGauge, judged: Judged) -> None:
    gauge.set(judged.slo.definition, judged.evaluation.short_burn, judged.evaluation.long_burn)
    log_events(judged.events)


def _scope(plugin: str, version: str, rollout_id: str) -> Scope:
    check_plugin(plugin)
    if version:
        check_version(version)
    if rollout_id:
        check_name("rollout_id", rollout_id)
    return Scope.of(plugin, version, rollout_id)


async def refresh_burn_rates(
    uow: UnitOfWorkFactory, gauge: BurnRateGauge, *, everything: bool = False
) -> Tick:
    """Judges every SLO a tick can change now, or every SLO (see `evaluate_all`)."""
    return await evaluate_all(uow, gauge, everything=everything)


async def prune_buckets(uow: UnitOfWorkFactory) -> int:
    """Deletes buckets no window or budget period reads any more; returns how many."""
    async with uow(ALL_TENANTS) as tx:
        return await tx.buckets.prune(tx.clock.now())
