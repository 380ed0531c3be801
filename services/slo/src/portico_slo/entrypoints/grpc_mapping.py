"""Protobuf messages of portico.slo.v1 to domain values and back (the gRPC edge)."""

from __future__ import annotations

from datetime import datetime

from portico.slo.v1 import slo_pb2 as pb
from portico_common.timestamps import optional_timestamp, to_timestamp
from portico_slo.app.budgets import WindowBurn
from portico_slo.app.ports import SloRecord, ViolationRecord
from portico_slo.domain.budget import Budget
from portico_slo.domain.durations import parse_duration
from portico_slo.domain.indicator import BudgetingMethod, Indicator, PrometheusSource, SliKind
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.scope import ScopeKind
from portico_slo.domain.slo import SloState, TierState
from portico_slo.domain.templates import SloSpec, SloTemplate
from portico_slo.domain.tiers import AlertPolicy, BurnRateTier, Severity
from portico_slo.domain.windows import TimeWindow
from portico_slo.errors import InvalidSloDefinitionError

STATES = {SloState.OK: pb.SLO_STATE_OK, SloState.VIOLATED: pb.SLO_STATE_VIOLATED}
SCOPES = {
    ScopeKind.PLUGIN: pb.SCOPE_KIND_PLUGIN,
    ScopeKind.VERSION: pb.SCOPE_KIND_VERSION,
    ScopeKind.CANARY: pb.SCOPE_KIND_CANARY,
}
SCOPE_OF = {v: k for k, v in SCOPES.items()}
SLI_KINDS = {
    SliKind.RATIO: pb.SLI_KIND_RATIO,
    SliKind.LATENCY: pb.SLI_KIND_LATENCY,
    SliKind.RATIO_AND_LATENCY: pb.SLI_KIND_RATIO_AND_LATENCY,
}
SLI_KIND_OF = {v: k for k, v in SLI_KINDS.items()}
BUDGETING = {
    BudgetingMethod.OCCURRENCES: pb.BUDGETING_METHOD_OCCURRENCES,
    BudgetingMethod.TIMESLICES: pb.BUDGETING_METHOD_TIMESLICES,
    BudgetingMethod.RATIO_TIMESLICES: pb.BUDGETING_METHOD_RATIO_TIMESLICES,
}
BUDGETING_OF = {v: k for k, v in BUDGETING.items()}
TIER_STATES = {TierState.FIRING: pb.TIER_STATE_FIRING, TierState.INHIBITED: pb.TIER_STATE_INHIBITED}


# -- requests to domain values ---------------------------------------------------------


def window_of(message: pb.TimeWindow) -> TimeWindow:
    if not message.duration:
        return TimeWindow(parse_duration("30d", "spec.time_window.duration"))
    duration = parse_duration(message.duration, "spec.time_window.duration")
    calendar = bool(message.calendar_start) or not duration.fixed
    try:
        start = datetime.fromisoformat(message.calendar_start) if message.calendar_start else None
    except ValueError:
        raise InvalidSloDefinitionError(
            "spec.time_window.calendar_start",
            f"{message.calendar_start!r} is not a date and time like 2022-01-01T00:00:00",
        ) from None
    return TimeWindow(
        duration,
        rolling=message.rolling or not calendar,
        calendar_start=start,
        time_zone=message.time_zone or "UTC",
    )


def tier_of(message: pb.BurnRateTier, field: str) -> BurnRateTier:
    try:
        severity = Severity(message.severity or "page")
    except ValueError:
        raise InvalidSloDefinitionError(
            f"{field}.severity", f"{message.severity!r} is not page or ticket"
        ) from None
    return BurnRateTier(
        name=message.name,
        severity=severity,
        long_window_seconds=message.long_window_seconds,
        short_window_seconds=message.short_window_seconds,
        factor=message.factor,
        enabled=message.enabled,
    )


def spec_of(message: pb.SloSpec) -> SloSpec:
    """The domain spec of a request's SloSpec (0 and empty take the defaults)."""
    latency = message.latency_threshold_ms
    kind = SLI_KIND_OF.get(message.sli_kind) or (
        SliKind.RATIO_AND_LATENCY if latency else SliKind.RATIO
    )
    source = message.prometheus if message.HasField("prometheus") else None
    indicator = Indicator(
        kind=kind,
        latency_threshold_ms=latency,
        prometheus=None
        if source is None
        else PrometheusSource(
            good=source.good,
            bad=source.bad,
            total=source.total,
            value=source.value,
            op=source.op or "lte",
            threshold=source.threshold,
        ),
    )
    min_events = message.min_events or 10
    tiers = tuple(tier_of(t, f"spec.tiers[{i}]") for i, t in enumerate(message.tiers))
    return SloSpec(
        objective=message.objective,
        window=window_of(message.time_window),
        indicator=indicator,
        budgeting=BUDGETING_OF.get(message.budgeting, BudgetingMethod.OCCURRENCES),
        timeslice_target=message.timeslice_target,
        timeslice_seconds=message.timeslice_window_seconds,
        alerting=AlertPolicy(tiers, min_events) if tiers else None,
        disabled_tiers=frozenset(message.disabled_tiers),
        min_events=min_events,
        labels=tuple(message.labels.items()),
        name=message.name,
        display_name=message.display_name,
        description=message.description,
    )


def template_of(message: pb.SloTemplate) -> SloTemplate:
    min_events = message.canary_min_events or 20
    if message.HasField("canary_tier"):
        canary = AlertPolicy((tier_of(message.canary_tier, "template.canary_tier"),), min_events)
    else:
        canary = AlertPolicy.canary(min_events=min_events)
    return SloTemplate(
        name=message.name,
        spec=spec_of(message.spec),
        canary=canary,
        is_default=message.is_default,
    )


# -- domain values to responses --------------------------------------------------------


def tier_message(tier: BurnRateTier) -> pb.BurnRateTier:
    return pb.BurnRateTier(
        name=tier.name,
        severity=tier.severity.value,
        long_window_seconds=tier.long_window_seconds,
        short_window_seconds=tier.short_window_seconds,
        factor=tier.factor,
        enabled=tier.enabled,
    )


def spec_message(d: SloDefinition) -> pb.SloSpec:
    source = d.indicator.prometheus
    w = d.window
    return pb.SloSpec(
        name=d.name,
        display_name=d.display_name,
        description=d.description,
        objective=d.objective,
        time_window=pb.TimeWindow(
            duration=str(w.duration),
            rolling=w.rolling,
            calendar_start=w.calendar_start.isoformat() if w.calendar_start else "",
            time_zone=w.time_zone,
        ),
        sli_kind=SLI_KINDS[d.indicator.kind],
        latency_threshold_ms=d.latency_threshold_ms,
        budgeting=BUDGETING[d.budgeting],
        timeslice_target=d.timeslice_target,
        timeslice_window_seconds=d.timeslice_seconds,
        tiers=[tier_message(t) for t in d.alerting.tiers],
        disabled_tiers=[t.name for t in d.alerting.tiers if not t.enabled],
        min_events=d.min_events,
        labels=dict(d.labels),
        prometheus=None
        if source is None
        else pb.PrometheusSource(
            good=source.good,
            bad=source.bad,
            total=source.total,
            value=source.value,
            op=source.op,
            threshold=source.threshold,
        ),
    )


def slo_message(slo: SloRecord) -> pb.Slo:
    d = slo.definition
    tiers = {t.name: t for t in d.alerting.tiers}
    return pb.Slo(
        slo_id=d.slo_id,
        tenant_id=d.tenant_id,
        plugin=d.plugin,
        version=d.version,
        objective=d.objective,
        window_seconds=d.window_seconds,
        latency_threshold_ms=d.latency_threshold_ms,
        burn_rate_threshold=d.burn_rate_threshold,
        short_window_seconds=d.short_window_seconds,
        long_window_seconds=d.long_window_seconds,
        min_events=d.min_events,
        state=STATES[slo.status.state],
        short_window_burn_rate=slo.short_window_burn_rate,
        long_window_burn_rate=slo.long_window_burn_rate,
        violated_at=optional_timestamp(slo.status.violated_at),
        name=d.name,
        scope=SCOPES[d.scope.kind],
        rollout_id=d.scope.rollout_id,
        spec=spec_message(d),
        active_tiers=[
            pb.TierStatus(
                tier=name,
                state=TIER_STATES[active.state],
                since=to_timestamp(active.since),
                violation_id=active.violation_id,
            )
            for name, active in slo.status.tiers.items()
        ],
        tier_burns=[
            pb.TierBurn(
                tier=b.tier,
                short_window_burn_rate=b.short_burn,
                long_window_burn_rate=b.long_burn,
                factor=tiers[b.tier].factor if b.tier in tiers else 0.0,
                severity=tiers[b.tier].severity.value if b.tier in tiers else "",
            )
            for b in slo.tier_burns
        ],
        refused_outcomes=slo.refused_outcomes,
        evaluated_at=optional_timestamp(slo.evaluated_at),
        bucket_seconds=slo.bucket_seconds,
    )


def template_message(t: SloTemplate) -> pb.SloTemplate:
    spec = t.spec
    canary = t.canary.tiers[0]
    return pb.SloTemplate(
        name=t.name,
        spec=pb.SloSpec(
            objective=spec.objective,
            time_window=pb.TimeWindow(
                duration=str(spec.window.duration),
                rolling=spec.window.rolling,
                calendar_start=spec.window.calendar_start.isoformat()
                if spec.window.calendar_start
                else "",
                time_zone=spec.window.time_zone,
            ),
            sli_kind=SLI_KINDS[spec.indicator.kind],
            latency_threshold_ms=spec.indicator.latency_threshold_ms,
            budgeting=BUDGETING[spec.budgeting],
            timeslice_target=spec.timeslice_target,
            timeslice_window_seconds=spec.timeslice_seconds,
            tiers=[tier_message(x) for x in spec.alerting.tiers] if spec.alerting else [],
            disabled_tiers=sorted(spec.disabled_tiers),
            min_events=spec.min_events,
            labels=dict(spec.labels),
            description=spec.description,
        ),
        canary_tier=tier_message(canary),
        canary_min_events=t.canary.min_events,
        is_default=t.is_default,
    )


def budget_message(b: Budget) -> pb.ErrorBudget:
    s = b.summary
    return pb.ErrorBudget(
        period_start=to_timestamp(b.period_start),
        period_end=to_timestamp(b.period_end),
        as_of=to_timestamp(b.as_of),
        allowed=b.allowed,
        spent=b.spent,
        consumed=b.consumed,
        remaining=b.remaining,
        burn_rate=b.burn_rate,
        good_events=s.events.good,
        bad_events=s.events.bad,
        good_slices=s.good_slices,
        bad_slices=s.bad_slices,
    )


def burn_message(w: WindowBurn) -> pb.WindowBurn:
    return pb.WindowBurn(
        window_seconds=w.window_seconds,
        burn_rate=w.burn_rate,
        good_events=w.summary.events.good,
        bad_events=w.summary.events.bad,
    )


def violation_message(r: ViolationRecord) -> pb.Violation:
    v = r.violation
    return pb.Violation(
        violation_id=v.violation_id,
        slo_id=v.slo_id,
        slo_name=v.name,
        tier=v.tier,
        severity=v.severity,
        rule=v.rule,
        detected_at=to_timestamp(v.detected_at),
        recovered_at=optional_timestamp(r.recovered_at),
        short_window_burn_rate=v.short_window_burn_rate,
        long_window_burn_rate=v.long_window_burn_rate,
        threshold=v.threshold,
        short_window_seconds=v.short_window_seconds,
        long_window_seconds=v.long_window_seconds,
        short_good=v.short_good,
        short_bad=v.short_bad,
        long_good=v.long_good,
        long_bad=v.long_bad,
        plugin=v.plugin,
        version=v.version,
    )
