"""OpenSLO SLO documents into Portico SLO specs.

One Portico SLO has one objective: an OpenSLO SLO with several objectives
becomes one SLO per objective, named `<name>.<index>`, and exports back as
one document. How fields map:

- `timeWindow`: rolling or calendar (startTime read as wall-clock time in timeZone).
- `budgetingMethod`, `target`/`targetPercent`, `timeSliceTarget`, `timeSliceWindow`.
- `ratioMetric`: a ratio SLI; pulled when every metric source is Prometheus
  (its `spec.query`), else pushed with ReportOutcomes.
- `thresholdMetric` with `op: lt|lte` and `value`: a latency SLI in ms
  (pushed), or a value query judged per step when the source is Prometheus.
- `alertPolicies` (inline or by ref, conditions inline or by ref): each
  burnrate condition with `op: gte|gt` is a tier; `threshold` is its factor,
  `lookbackWindow` its long window and `alertAfter` its short window (1/12 of
  the long one when absent, as in the workbook). Severity "page", "critical",
  "sev1", "p1" or "high" pages; anything else is a ticket. No policies: the
  workbook's tiers scaled to the window.
- Labels `portico.dev/plugin`, `portico.dev/version`, `portico.dev/rollout-id`
  name the scope; else the caller's, else `spec.service` as the plugin.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from portico_slo.domain.durations import parse_duration
from portico_slo.domain.indicator import BudgetingMethod, Indicator, PrometheusSource, SliKind
from portico_slo.domain.openslo.documents import Bundle, Doc
from portico_slo.domain.scope import Scope
from portico_slo.domain.templates import THIRTY_DAYS, SloSpec
from portico_slo.domain.tiers import AlertPolicy, BurnRateTier, Severity
from portico_slo.domain.windows import TimeWindow
from portico_slo.errors import InvalidSloDefinitionError, OpenSloError

PLUGIN_LABEL = "portico.dev/plugin"
VERSION_LABEL = "portico.dev/version"
ROLLOUT_LABEL = "portico.dev/rollout-id"
PAGING = {"page", "critical", "sev1", "p1", "high"}


@dataclass(frozen=True, slots=True)
class Imported:
    """One Portico SLO read from a document: its scope and its spec."""

    path: str
    scope: Scope
    spec: SloSpec


def plain(value: object) -> Any:
    """A YAML value as JSON would hold it (timestamps become "YYYY-MM-DD HH:MM:SS")."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def read(
    found: Bundle, *, plugin: str = "", version: str = "", rollout_id: str = ""
) -> list[Imported]:
    """Every objective of every SLO document as a Portico spec, in document order."""
    imported = []
    for index, (name, doc) in enumerate(found.slos):
        path = f"SLO {name}"
        labels = {
            k: v for k, v in (doc["metadata"].get("labels") or {}).items() if isinstance(v, str)
        }
        spec = doc["spec"]
        scope = _scope(labels, spec, path, plugin=plugin, version=version, rollout_id=rollout_id)
        indicator_doc = _indicator(found, spec, path)
        objectives = spec["objectives"]
        for i, objective in enumerate(objectives):
            opath = f"{path}: spec.objectives[{i}]"
            slo_name = name if len(objectives) == 1 else f"{name}.{i}"
            try:
                portico = _spec(
                    found,
                    doc,
                    indicator=indicator_doc,
                    objective=objective,
                    path=opath,
                    name=slo_name,
                    labels=labels,
                )
                # Building the definition checks everything the domain checks.
                portico.definition("check", "check", scope)
            except InvalidSloDefinitionError as exc:
                raise OpenSloError(f"{opath} ({exc.field})", exc.problem) from None
            extras = {
                "document": plain(doc),
                "index": index,
                "objective": i,
                "refs": [plain(r) for r in _referenced(found, spec)],
            }
            extras["imported"] = interpreted(portico)
            spec_with_extras = _with_openslo(portico, json.dumps(extras, sort_keys=True))
            imported.append(Imported(opath, scope, spec_with_extras))
    return imported


def _with_openslo(spec: SloSpec, extras: str) -> SloSpec:
    from dataclasses import replace

    return replace(spec, openslo=extras)


def interpreted(spec: SloSpec) -> dict[str, Any]:
    """The fields an export compares to tell whether an imported SLO changed."""
    w = spec.window
    source = spec.indicator.prometheus
    return {
        "name": spec.name,
        "display_name": spec.display_name,
        "description": spec.description,
        "labels": dict(spec.labels),
        "objective": spec.objective,
        "window": [
            str(w.duration),
            w.rolling,
            w.calendar_start.isoformat() if w.calendar_start else None,
            w.time_zone,
        ],
        "budgeting": spec.budgeting.value,
        "timeslice": [spec.timeslice_target, spec.timeslice_seconds],
        "indicator": [
            spec.indicator.kind.value,
            spec.indicator.latency_threshold_ms,
            None
            if source is None
            else [source.good, source.bad, source.total, source.value, source.op, source.threshold],
        ],
        "alerting": None
        if spec.alerting is None
        else [
            spec.alerting.min_events,
            [
                [
                    t.name,
                    t.severity.value,
                    t.long_window_seconds,
                    t.short_window_seconds,
                    t.factor,
                    t.enabled,
                ]
                for t in spec.alerting.tiers
            ],
        ],
        "disabled": sorted(spec.disabled_tiers),
    }


def _scope(
    labels: Mapping[str, str], spec: Doc, path: str, *, plugin: str, version: str, rollout_id: str
) -> Scope:
    chosen = labels.get(PLUGIN_LABEL) or plugin or spec.get("service") or ""
    if not chosen:
        raise OpenSloError(
            f"{path}: metadata.labels", f"name the plugin ({PLUGIN_LABEL}) or pass one to import"
        )
    try:
        return Scope.of(
            chosen, labels.get(VERSION_LABEL, version), labels.get(ROLLOUT_LABEL, rollout_id)
        )
    except InvalidSloDefinitionError as exc:
        raise OpenSloError(f"{path}: metadata.labels", exc.problem) from None


def _referenced(found: Bundle, spec: Doc) -> list[Doc]:
    """The SLI, AlertPolicy and AlertCondition documents an SLO names by ref."""
    refs = []
    if "indicatorRef" in spec and spec["indicatorRef"] in found.slis:
        refs.append(found.slis[spec["indicatorRef"]])
    for item in spec.get("alertPolicies") or []:
        policy = found.alert_policies.get(item.get("alertPolicyRef", ""))
        if policy is not None:
            refs.append(policy)
        conditions = (policy or item).get("spec", {}).get("conditions", [])
        refs.extend(
            found.alert_conditions[c["conditionRef"]]
            for c in conditions
            if c.get("conditionRef") in found.alert_conditions
        )
    return refs


def _indicator(found: Bundle, spec: Doc, path: str) -> Doc:
    if "indicator" in spec:
        return dict(spec["indicator"]["spec"])
    ref = spec["indicatorRef"]
    if ref not in found.slis:
        raise OpenSloError(f"{path}: spec.indicatorRef", f"no SLI named {ref!r} in the documents")
    return dict(found.slis[ref]["spec"])


def _spec(
    found: Bundle,
    doc: Doc,
    *,
    indicator: Doc,
    objective: Doc,
    path: str,
    name: str,
    labels: Mapping[str, str],
) -> SloSpec:
    spec = doc["spec"]
    method = BudgetingMethod(spec.get("budgetingMethod") or "Occurrences")
    target = objective.get("target")
    if target is None:
        target = objective["targetPercent"] / 100
    slice_seconds = 0
    if method is not BudgetingMethod.OCCURRENCES:
        slice_seconds = parse_duration(objective["timeSliceWindow"], "timeSliceWindow").seconds
    policies_path = f"{path.split(':', maxsplit=1)[0]}: spec.alertPolicies"
    alerting = _policies(found, spec.get("alertPolicies") or [], policies_path)
    return SloSpec(
        objective=float(target),
        window=_window(spec["timeWindow"][0]) if spec.get("timeWindow") else THIRTY_DAYS,
        indicator=_indicator_of(indicator, objective, path),
        budgeting=method,
        timeslice_target=float(objective.get("timeSliceTarget") or 0.0)
        if method is BudgetingMethod.TIMESLICES
        else 0.0,
        timeslice_seconds=slice_seconds,
        alerting=alerting,
        labels=tuple(labels.items()),
        name=name,
        display_name=doc["metadata"].get("displayName") or "",
        description=spec.get("description") or "",
    )


def _window(window: Doc) -> TimeWindow:
    length = parse_duration(window["duration"], "timeWindow.duration")
    calendar = window.get("calendar")
    rolling = window.get("isRolling", calendar is None)
    if calendar is None:
        return TimeWindow(length, rolling=bool(rolling))
    start = calendar["startTime"]
    if isinstance(start, str):
        try:
            start = datetime.fromisoformat(start)
        except ValueError:
            raise InvalidSloDefinitionError(
                "timeWindow.calendar.startTime", f"{start!r} is not like 2020-01-21 12:30:00"
            ) from None
    elif isinstance(start, date) and not isinstance(start, datetime):
        start = datetime(start.year, start.month, start.day)  # noqa: DTZ001 - wall-clock time
    return TimeWindow(
        length,
        rolling=bool(rolling),
        calendar_start=start.replace(tzinfo=None),
        time_zone=calendar["timeZone"],
    )


def _prometheus_query(node: object) -> str | None:
    source = node["metricSource"] if isinstance(node, Mapping) else None
    if not isinstance(source, Mapping) or source.get("type") != "Prometheus":
        return None
    query = (source.get("spec") or {}).get("query")
    return query if isinstance(query, str) else None


def _indicator_of(indicator: Doc, objective: Doc, path: str) -> Indicator:
    if "ratioMetric" in indicator:
        ratio = indicator["ratioMetric"]
        parts = {k: _prometheus_query(ratio[k]) for k in ("good", "bad", "total") if k in ratio}
        if parts and all(parts.values()):
            return Indicator(
                SliKind.RATIO,
                prometheus=PrometheusSource(
                    good=parts.get("good") or "",
                    bad=parts.get("bad") or "",
                    total=parts["total"] or "",
                ),
            )
        return Indicator(SliKind.RATIO)
    op, value = objective.get("op"), objective.get("value")
    if op is None or value is None:
        raise OpenSloError(f"{path}", "a thresholdMetric objective needs op and value")
    query = _prometheus_query(indicator["thresholdMetric"])
    if query:
        return Indicator(
            SliKind.RATIO, prometheus=PrometheusSource(value=query, op=op, threshold=float(value))
        )
    if op not in ("lt", "lte"):
        raise OpenSloError(
            f"{path}.op", f"{op}: a pushed threshold SLI is a latency in ms, good below (lt, lte)"
        )
    threshold = math.ceil(value) - 1 if op == "lt" else math.floor(value)
    if threshold < 1:
        raise OpenSloError(f"{path}.value", f"{value} leaves no latency in ms under it")
    return Indicator(SliKind.LATENCY, latency_threshold_ms=int(threshold))


def _policies(found: Bundle, policies: list[Doc], path: str) -> AlertPolicy | None:
    if not policies:
        return None
    tiers = []
    for i, item in enumerate(policies):
        ppath = f"{path}[{i}]"
        if "alertPolicyRef" in item:
            ref = item["alertPolicyRef"]
            if ref not in found.alert_policies:
                raise OpenSloError(f"{ppath}.alertPolicyRef", f"no AlertPolicy named {ref!r}")
            item = found.alert_policies[ref]  # noqa: PLW2901 - the ref stands for the policy
        condition = item["spec"]["conditions"][0]
        cpath = f"{ppath}.spec.conditions[0]"
        if "conditionRef" in condition:
            ref = condition["conditionRef"]
            if ref not in found.alert_conditions:
                raise OpenSloError(f"{cpath}.conditionRef", f"no AlertCondition named {ref!r}")
            condition = found.alert_conditions[ref]
        tiers.append(_tier(condition, item["metadata"]["name"], f"{cpath}.spec"))
    return AlertPolicy(tuple(tiers))


def _tier(condition: Doc, policy_name: str, path: str) -> BurnRateTier:
    spec = condition["spec"]
    rule = spec["condition"]
    if rule["op"] not in ("gte", "gt"):
        raise OpenSloError(
            f"{path}.condition.op",
            f"{rule['op']} fires on a low burn; Portico alerts when the burn rate reaches "
            "the threshold (gte, gt)",
        )
    long = parse_duration(rule["lookbackWindow"], "lookbackWindow")
    after = rule.get("alertAfter")
    short = parse_duration(after, "alertAfter").seconds if after else 0
    if not long.fixed:
        raise OpenSloError(f"{path}.condition.lookbackWindow", "must be a fixed length")
    if not 0 < short < long.seconds:
        short = max(1, long.seconds // 12)
    name = condition.get("metadata", {}).get("name") or policy_name
    severity = Severity.PAGE if str(spec["severity"]).lower() in PAGING else Severity.TICKET
    return BurnRateTier(
        name=re.sub(r"[^A-Za-z0-9_-]", "-", name),
        severity=severity,
        long_window_seconds=long.seconds,
        short_window_seconds=short,
        factor=float(rule["threshold"]),
    )
