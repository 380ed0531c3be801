"""Portico SLOs as OpenSLO v1 documents.

An SLO imported from OpenSLO starts from its original document and rewrites
only what changed since (so an unchanged import exports exactly as it came,
Prometheus queries, annotations and all); the objectives of one document
come back together. Any other SLO gets a document of its own, whose labels
name its scope so it imports back into the same one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from portico_slo.domain.durations import Duration
from portico_slo.domain.indicator import SliKind
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.openslo.documents import API_VERSION, Doc
from portico_slo.domain.openslo.reading import (
    PLUGIN_LABEL,
    ROLLOUT_LABEL,
    VERSION_LABEL,
    interpreted,
)
from portico_slo.domain.templates import SloSpec
from portico_slo.domain.tiers import AlertPolicy


def documents(definitions: Sequence[SloDefinition]) -> list[Doc]:
    """The documents of these SLOs, imported ones grouped back by their document."""
    out: list[Doc] = []
    refs: dict[tuple[str, str], Doc] = {}
    grouped: dict[str, tuple[Doc, list[tuple[int, SloDefinition, dict[str, Any]]]]] = {}
    for d in definitions:
        if not d.openslo:
            out.append(_fresh(d))
            continue
        extras = json.loads(d.openslo)
        for ref in extras.get("refs", []):
            refs.setdefault((ref["kind"], ref["metadata"]["name"]), ref)
        key = json.dumps(extras["document"]["metadata"]["name"]) + f"#{extras['index']}"
        if key not in grouped:
            grouped[key] = (copy.deepcopy(extras["document"]), [])
            out.append(grouped[key][0])
        grouped[key][1].append((extras["objective"], d, extras["imported"]))
    for doc, members in grouped.values():
        single = len(doc["spec"]["objectives"]) == 1
        for index, d, before in sorted(members, key=lambda m: m[0]):
            _overlay(doc, index, d, before, single=single)
    # Referenced documents first, so the stream imports back in one piece.
    return [*refs.values(), *out]


def _spec_of(d: SloDefinition) -> SloSpec:
    return SloSpec(
        objective=d.objective,
        window=d.window,
        indicator=d.indicator,
        budgeting=d.budgeting,
        timeslice_target=d.timeslice_target,
        timeslice_seconds=d.timeslice_seconds,
        alerting=d.alerting,
        labels=d.labels,
        name=d.name,
        display_name=d.display_name,
        description=d.description,
    )


def _overlay(
    doc: Doc, index: int, d: SloDefinition, before: dict[str, Any], *, single: bool
) -> None:
    now = interpreted(_spec_of(d))
    changed = {k for k in now if k != "disabled" and now[k] != before.get(k)}
    meta, spec = doc["metadata"], doc["spec"]
    objective = spec["objectives"][index]
    if "name" in changed and single:
        meta["name"] = d.name
    if "display_name" in changed:
        meta["displayName"] = d.display_name
    if "description" in changed:
        spec["description"] = d.description
    if "labels" in changed:
        meta["labels"] = {**(meta.get("labels") or {}), **dict(d.labels)}
    if "window" in changed:
        spec["timeWindow"] = [_window(d)]
    if "budgeting" in changed:
        spec["budgetingMethod"] = d.budgeting.value
    if "objective" in changed:
        objective.pop("targetPercent", None)
        objective["target"] = d.objective
    if "timeslice" in changed:
        objective.update(_slices(d))
    if "indicator" in changed:
        spec.pop("indicatorRef", None)
        spec["indicator"] = _indicator(d)
        objective.update(_threshold(d))
    if "alerting" in changed and not (before.get("alerting") is None and _is_default(d)):
        spec["alertPolicies"] = _policies(d)


def _is_default(d: SloDefinition) -> bool:
    return d.alerting == AlertPolicy.workbook(d.window_seconds, min_events=d.min_events)


def _fresh(d: SloDefinition) -> Doc:
    labels = {PLUGIN_LABEL: d.plugin} | dict(d.labels)
    if d.version:
        labels[VERSION_LABEL] = d.version
    if d.scope.rollout_id:
        labels[ROLLOUT_LABEL] = d.scope.rollout_id
    metadata: Doc = {"name": d.name, "labels": labels}
    if d.display_name:
        metadata["displayName"] = d.display_name
    spec: Doc = {}
    if d.description:
        spec["description"] = d.description
    spec |= {
        "service": d.plugin,
        "indicator": _indicator(d),
        "timeWindow": [_window(d)],
        "budgetingMethod": d.budgeting.value,
        "objectives": [{"target": d.objective} | _slices(d) | _threshold(d)],
        "alertPolicies": _policies(d),
    }
    return {"apiVersion": API_VERSION, "kind": "SLO", "metadata": metadata, "spec": spec}


def _window(d: SloDefinition) -> Doc:
    w = d.window
    out: Doc = {"duration": str(w.duration), "isRolling": w.rolling}
    if not w.rolling:
        start = (
            w.calendar_start.strftime("%Y-%m-%d %H:%M:%S")
            if w.calendar_start
            else "1970-01-01 00:00:00"
        )
        out["calendar"] = {"startTime": start, "timeZone": w.time_zone}
    return out


def _slices(d: SloDefinition) -> Doc:
    if not d.timeslice_seconds:
        return {}
    out: Doc = {"timeSliceWindow": str(Duration.of_seconds(d.timeslice_seconds))}
    if d.timeslice_target:
        out["timeSliceTarget"] = d.timeslice_target
    return out


def _threshold(d: SloDefinition) -> Doc:
    source = d.indicator.prometheus
    if source is not None and source.is_threshold:
        return {"op": source.op, "value": source.threshold}
    if d.indicator.kind is SliKind.LATENCY:
        return {"op": "lte", "value": d.latency_threshold_ms}
    return {}


def _source(query: str) -> Doc:
    if query:
        return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}
    # Pushed with ReportOutcomes: Portico is the source.
    return {"metricSource": {"type": "Portico", "spec": {"api": "ReportOutcomes"}}}


def _indicator(d: SloDefinition) -> Doc:
    source = d.indicator.prometheus
    kind = d.indicator.kind
    name = f"{d.name}-sli".replace("/", "-").replace("@", "-")
    if (source is not None and source.is_threshold) or kind is SliKind.LATENCY:
        spec: Doc = {"thresholdMetric": _source(source.value if source else "")}
    else:
        ratio: Doc = {"counter": True}
        if source is not None and source.bad:
            ratio["bad"] = _source(source.bad)
        else:
            ratio["good"] = _source(source.good if source else "")
        ratio["total"] = _source(source.total if source else "")
        spec = {"ratioMetric": ratio}
    if kind is SliKind.RATIO_AND_LATENCY:
        spec["description"] = f"successful answers within {d.latency_threshold_ms} ms"
    return {"metadata": {"name": name}, "spec": spec}


def _policies(d: SloDefinition) -> list[Doc]:
    return [
        {
            "kind": "AlertPolicy",
            "metadata": {"name": f"{tier.name}"},
            "spec": {
                "alertWhenBreaching": True,
                "alertWhenResolved": True,
                "conditions": [
                    {
                        "kind": "AlertCondition",
                        "metadata": {"name": tier.name},
                        "spec": {
                            "severity": tier.severity.value,
                            "condition": {
                                "kind": "burnrate",
                                "op": "gte",
                                "threshold": tier.factor,
                                "lookbackWindow": str(
                                    Duration.of_seconds(tier.long_window_seconds)
                                ),
                                "alertAfter": str(Duration.of_seconds(tier.short_window_seconds)),
                            },
                        },
                    }
                ],
                "notificationTargets": [],
            },
        }
        for tier in d.alerting.enabled
    ]
