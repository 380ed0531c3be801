"""SLO definitions and templates as JSON documents (the `spec` columns).

Reading goes through the domain constructors, so a stored spec is validated
on the way back in like any other input.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portico_slo.domain.durations import parse_duration
from portico_slo.domain.indicator import BudgetingMethod, Indicator, PrometheusSource, SliKind
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.scope import Scope, ScopeKind
from portico_slo.domain.templates import SloSpec, SloTemplate
from portico_slo.domain.tiers import AlertPolicy, BurnRateTier, Severity
from portico_slo.domain.windows import TimeWindow

Json = dict[str, Any]


def window_json(window: TimeWindow) -> Json:
    return {
        "duration": str(window.duration),
        "rolling": window.rolling,
        "calendar_start": window.calendar_start.isoformat() if window.calendar_start else None,
        "time_zone": window.time_zone,
    }


def window_of(doc: Json) -> TimeWindow:
    start = doc.get("calendar_start")
    return TimeWindow(
        duration=parse_duration(doc["duration"], "time_window.duration"),
        rolling=bool(doc["rolling"]),
        calendar_start=datetime.fromisoformat(start) if start else None,
        time_zone=doc.get("time_zone", "UTC"),
    )


def policy_json(policy: AlertPolicy) -> Json:
    return {
        "min_events": policy.min_events,
        "tiers": [
            {
                "name": t.name,
                "severity": t.severity.value,
                "long": t.long_window_seconds,
                "short": t.short_window_seconds,
                "factor": t.factor,
                "enabled": t.enabled,
            }
            for t in policy.tiers
        ],
    }


def policy_of(doc: Json) -> AlertPolicy:
    return AlertPolicy(
        tuple(
            BurnRateTier(
                name=t["name"],
                severity=Severity(t["severity"]),
                long_window_seconds=t["long"],
                short_window_seconds=t["short"],
                factor=t["factor"],
                enabled=t["enabled"],
            )
            for t in doc["tiers"]
        ),
        doc["min_events"],
    )


def indicator_json(indicator: Indicator) -> Json:
    source = indicator.prometheus
    return {
        "kind": indicator.kind.value,
        "latency_threshold_ms": indicator.latency_threshold_ms,
        "prometheus": None
        if source is None
        else {
            "good": source.good,
            "bad": source.bad,
            "total": source.total,
            "value": source.value,
            "op": source.op,
            "threshold": source.threshold,
        },
    }


def indicator_of(doc: Json) -> Indicator:
    source = doc.get("prometheus")
    return Indicator(
        kind=SliKind(doc["kind"]),
        latency_threshold_ms=doc["latency_threshold_ms"],
        prometheus=None if source is None else PrometheusSource(**source),
    )


def definition_json(d: SloDefinition) -> Json:
    return {
        "name": d.name,
        "scope": {
            "kind": d.scope.kind.value,
            "plugin": d.scope.plugin,
            "version": d.scope.version,
            "rollout_id": d.scope.rollout_id,
        },
        "objective": d.objective,
        "window": window_json(d.window),
        "alerting": policy_json(d.alerting),
        "indicator": indicator_json(d.indicator),
        "budgeting": d.budgeting.value,
        "timeslice_target": d.timeslice_target,
        "timeslice_seconds": d.timeslice_seconds,
        "display_name": d.display_name,
        "description": d.description,
        "labels": dict(d.labels),
        "openslo": d.openslo,
    }


def definition_of(slo_id: str, tenant_id: str, doc: Json) -> SloDefinition:
    scope = doc["scope"]
    return SloDefinition(
        slo_id=slo_id,
        tenant_id=tenant_id,
        name=doc["name"],
        scope=Scope(
            ScopeKind(scope["kind"]), scope["plugin"], scope["version"], scope["rollout_id"]
        ),
        objective=doc["objective"],
        window=window_of(doc["window"]),
        alerting=policy_of(doc["alerting"]),
        indicator=indicator_of(doc["indicator"]),
        budgeting=BudgetingMethod(doc["budgeting"]),
        timeslice_target=doc["timeslice_target"],
        timeslice_seconds=doc["timeslice_seconds"],
        display_name=doc["display_name"],
        description=doc["description"],
        labels=tuple(doc["labels"].items()),
        openslo=doc["openslo"],
    )


def spec_json(s: SloSpec) -> Json:
    return {
        "objective": s.objective,
        "window": window_json(s.window),
        "indicator": indicator_json(s.indicator),
        "budgeting": s.budgeting.value,
        "timeslice_target": s.timeslice_target,
        "timeslice_seconds": s.timeslice_seconds,
        "alerting": None if s.alerting is None else policy_json(s.alerting),
        "disabled_tiers": sorted(s.disabled_tiers),
        "min_events": s.min_events,
        "labels": dict(s.labels),
        "name": s.name,
        "display_name": s.display_name,
        "description": s.description,
        "openslo": s.openslo,
    }


def spec_of(doc: Json) -> SloSpec:
    alerting = doc.get("alerting")
    return SloSpec(
        objective=doc["objective"],
        window=window_of(doc["window"]),
        indicator=indicator_of(doc["indicator"]),
        budgeting=BudgetingMethod(doc["budgeting"]),
        timeslice_target=doc["timeslice_target"],
        timeslice_seconds=doc["timeslice_seconds"],
        alerting=None if alerting is None else policy_of(alerting),
        disabled_tiers=frozenset(doc["disabled_tiers"]),
        min_events=doc["min_events"],
        labels=tuple(doc["labels"].items()),
        name=doc["name"],
        display_name=doc["display_name"],
        description=doc["description"],
        openslo=doc["openslo"],
    )


def template_json(t: SloTemplate) -> Json:
    return {
        "name": t.name,
        "spec": spec_json(t.spec),
        "canary": policy_json(t.canary),
        "is_default": t.is_default,
    }


def template_of(doc: Json) -> SloTemplate:
    return SloTemplate(
        name=doc["name"],
        spec=spec_of(doc["spec"]),
        canary=policy_of(doc["canary"]),
        is_default=doc["is_default"],
    )
