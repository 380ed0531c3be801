"""OpenSLO v1 documents, checked field by field with the path of each error.

The checks follow the specification's README: required fields, enums, one
time window, target or targetPercent, good-or-bad with total (or raw with
rawType), one alert condition per policy. Fields Portico does not interpret
(metric source specs, annotations, notification targets) are accepted as
they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portico_slo.domain.durations import parse_duration
from portico_slo.errors import InvalidSloDefinitionError, OpenSloError

API_VERSION = "openslo/v1"
KINDS = (
    "SLO",
    "SLI",
    "AlertPolicy",
    "AlertCondition",
    "AlertNotificationTarget",
    "Service",
    "DataSource",
)
BUDGETING_METHODS = ("Occurrences", "Timeslices", "RatioTimeslices")
OPERATORS = ("lte", "gte", "lt", "gt")
MAX_DESCRIPTION = 1050

Doc = dict[str, Any]


@dataclass
class Bundle:
    """The documents of one import, by kind and name."""

    slos: list[tuple[str, Doc]] = field(default_factory=list)
    slis: dict[str, Doc] = field(default_factory=dict)
    alert_policies: dict[str, Doc] = field(default_factory=dict)
    alert_conditions: dict[str, Doc] = field(default_factory=dict)
    others: list[Doc] = field(default_factory=list)


def mapping(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise OpenSloError(path, f"must be a mapping, not {type(value).__name__}")
    return value


def text(node: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str:
    value = node.get(key)
    if value is None:
        if required:
            raise OpenSloError(f"{path}.{key}", "is required")
        return ""
    if not isinstance(value, str):
        raise OpenSloError(f"{path}.{key}", f"must be a string, not {value!r}")
    return value


def number(node: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> float | None:
    value = node.get(key)
    if value is None:
        if required:
            raise OpenSloError(f"{path}.{key}", "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OpenSloError(f"{path}.{key}", f"must be a number, not {value!r}")
    return float(value)


def sequence(node: Mapping[str, Any], key: str, path: str) -> Sequence[Any]:
    value = node.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise OpenSloError(f"{path}.{key}", "must be a list")
    return value


def duration(node: Mapping[str, Any], key: str, path: str) -> None:
    try:
        parse_duration(node.get(key), f"{path}.{key}")
    except InvalidSloDefinitionError as exc:
        raise OpenSloError(f"{path}.{key}", exc.problem) from None


def check_metadata(doc: Mapping[str, Any], path: str) -> str:
    meta = mapping(doc.get("metadata"), f"{path}.metadata")
    name = text(meta, "name", f"{path}.metadata", required=True)
    if not name:
        raise OpenSloError(f"{path}.metadata.name", "must not be empty")
    text(meta, "displayName", f"{path}.metadata")
    labels = meta.get("labels")
    if labels is not None:
        mapping(labels, f"{path}.metadata.labels")
    return name


def _description(spec: Mapping[str, Any], path: str) -> None:
    if len(text(spec, "description", path)) > MAX_DESCRIPTION:
        raise OpenSloError(f"{path}.description", f"is longer than {MAX_DESCRIPTION} characters")


def check_metric_source(node: object, path: str) -> None:
    source = mapping(mapping(node, path).get("metricSource"), f"{path}.metricSource")
    text(source, "type", f"{path}.metricSource")
    text(source, "metricSourceRef", f"{path}.metricSource")
    if not source.get("type") and not source.get("metricSourceRef"):
        raise OpenSloError(f"{path}.metricSource", "needs a type or a metricSourceRef")
    if "spec" in source and source["spec"] is not None:
        mapping(source["spec"], f"{path}.metricSource.spec")


def check_indicator_spec(spec: Mapping[str, Any], path: str) -> None:
    _description(spec, path)
    ratio, threshold = spec.get("ratioMetric"), spec.get("thresholdMetric")
    if (ratio is None) == (threshold is None):
        raise OpenSloError(path, "needs exactly one of ratioMetric or thresholdMetric")
    if threshold is not None:
        check_metric_source(threshold, f"{path}.thresholdMetric")
        return
    ratio = mapping(ratio, f"{path}.ratioMetric")
    rpath = f"{path}.ratioMetric"
    counter = ratio.get("counter")
    if counter is not None and not isinstance(counter, bool):
        raise OpenSloError(f"{rpath}.counter", "must be true or false")
    if "raw" in ratio:
        if any(k in ratio for k in ("good", "bad", "total")):
            raise OpenSloError(f"{rpath}.raw", "cannot be used with good, bad or total")
        if text(ratio, "rawType", rpath, required=True) not in ("success", "failure"):
            raise OpenSloError(f"{rpath}.rawType", "must be success or failure")
        check_metric_source(ratio["raw"], f"{rpath}.raw")
        return
    if ("good" in ratio) == ("bad" in ratio):
        raise OpenSloError(rpath, "needs exactly one of good or bad")
    if "total" not in ratio:
        raise OpenSloError(f"{rpath}.total", "is required with good or bad")
    for key in ("good", "bad", "total"):
        if key in ratio:
            check_metric_source(ratio[key], f"{rpath}.{key}")


def check_inline_indicator(node: object, path: str) -> None:
    indicator = mapping(node, path)
    check_metadata(indicator, path)
    check_indicator_spec(mapping(indicator.get("spec"), f"{path}.spec"), f"{path}.spec")


def check_condition(node: Mapping[str, Any], path: str) -> None:
    spec = mapping(node.get("spec"), f"{path}.spec")
    _description(spec, f"{path}.spec")
    text(spec, "severity", f"{path}.spec", required=True)
    condition = mapping(spec.get("condition"), f"{path}.spec.condition")
    cpath = f"{path}.spec.condition"
    kind = text(condition, "kind", cpath) or "burnrate"
    if kind != "burnrate":
        raise OpenSloError(f"{cpath}.kind", f"{kind!r} is not burnrate")
    if text(condition, "op", cpath, required=True) not in OPERATORS:
        raise OpenSloError(f"{cpath}.op", f"must be one of {', '.join(OPERATORS)}")
    number(condition, "threshold", cpath, required=True)
    duration(condition, "lookbackWindow", cpath)
    if condition.get("alertAfter") is not None:
        duration(condition, "alertAfter", cpath)


def check_policy_spec(spec: Mapping[str, Any], path: str) -> None:
    _description(spec, path)
    for key in ("alertWhenNoData", "alertWhenResolved", "alertWhenBreaching"):
        if key in spec and not isinstance(spec[key], bool):
            raise OpenSloError(f"{path}.{key}", "must be true or false")
    conditions = sequence(spec, "conditions", path)
    if len(conditions) != 1:
        raise OpenSloError(f"{path}.conditions", "must hold exactly one condition")
    for i, item in enumerate(conditions):
        cpath = f"{path}.conditions[{i}]"
        condition = mapping(item, cpath)
        if "conditionRef" in condition:
            text(condition, "conditionRef", cpath, required=True)
        else:
            check_metadata(condition, cpath)
            check_condition(condition, cpath)
    for i, item in enumerate(sequence(spec, "notificationTargets", path)):
        mapping(item, f"{path}.notificationTargets[{i}]")


def check_slo_spec(spec: Mapping[str, Any], path: str) -> None:  # noqa: PLR0912 - one per field
    _description(spec, path)
    text(spec, "service", path)
    if ("indicator" in spec) == ("indicatorRef" in spec):
        raise OpenSloError(path, "needs exactly one of indicator or indicatorRef")
    if "indicator" in spec:
        check_inline_indicator(spec["indicator"], f"{path}.indicator")
    else:
        text(spec, "indicatorRef", path, required=True)
    # The README's own inline example has neither a time window nor a
    # budgeting method: both are read as their defaults (30 days, Occurrences).
    windows = sequence(spec, "timeWindow", path)
    if len(windows) > 1:
        raise OpenSloError(f"{path}.timeWindow", "must hold exactly one window")
    for window in windows:
        wpath = f"{path}.timeWindow[0]"
        window = mapping(window, wpath)  # noqa: PLW2901 - the same item, checked
        duration(window, "duration", wpath)
        if "calendar" in window:
            calendar = mapping(window["calendar"], f"{wpath}.calendar")
            if calendar.get("startTime") is None:
                raise OpenSloError(f"{wpath}.calendar.startTime", "is required")
            text(calendar, "timeZone", f"{wpath}.calendar", required=True)
    method = text(spec, "budgetingMethod", path) or "Occurrences"
    if method not in BUDGETING_METHODS:
        raise OpenSloError(
            f"{path}.budgetingMethod", f"{method!r} is not one of {', '.join(BUDGETING_METHODS)}"
        )
    objectives = sequence(spec, "objectives", path)
    if not objectives:
        raise OpenSloError(f"{path}.objectives", "needs at least one objective")
    for i, item in enumerate(objectives):
        check_objective(mapping(item, f"{path}.objectives[{i}]"), f"{path}.objectives[{i}]", method)
    for i, item in enumerate(sequence(spec, "alertPolicies", path)):
        ppath = f"{path}.alertPolicies[{i}]"
        policy = mapping(item, ppath)
        if "alertPolicyRef" in policy:
            text(policy, "alertPolicyRef", ppath, required=True)
        else:
            check_metadata(policy, ppath)
            check_policy_spec(mapping(policy.get("spec"), f"{ppath}.spec"), f"{ppath}.spec")


def check_objective(objective: Mapping[str, Any], path: str, method: str) -> None:
    text(objective, "displayName", path)
    target = number(objective, "target", path)
    percent = number(objective, "targetPercent", path)
    if (target is None) == (percent is None):
        raise OpenSloError(path, "needs exactly one of target or targetPercent")
    if target is not None and not 0 <= target < 1:
        raise OpenSloError(f"{path}.target", f"{target} is not in [0, 1)")
    if percent is not None and not 0 <= percent < 100:
        raise OpenSloError(f"{path}.targetPercent", f"{percent} is not in [0, 100)")
    if "op" in objective and text(objective, "op", path) not in OPERATORS:
        raise OpenSloError(f"{path}.op", f"must be one of {', '.join(OPERATORS)}")
    number(objective, "value", path)
    slice_target = number(objective, "timeSliceTarget", path)
    if slice_target is not None and not 0 <= slice_target <= 1:
        raise OpenSloError(f"{path}.timeSliceTarget", f"{slice_target} is not in [0, 1]")
    if method in ("Timeslices", "RatioTimeslices"):
        duration(objective, "timeSliceWindow", path)
        if method == "Timeslices" and slice_target is None:
            raise OpenSloError(f"{path}.timeSliceTarget", "is required with Timeslices")


def bundle(documents: Sequence[object]) -> Bundle:
    """Check every document and sort them by kind; names are unique per kind."""
    found = Bundle()
    for i, item in enumerate(documents):
        path = f"documents[{i}]"
        if item is None:
            continue  # an empty document between two "---"
        doc = dict(mapping(item, path))
        if doc.get("apiVersion") != API_VERSION:
            raise OpenSloError(
                f"{path}.apiVersion", f"must be {API_VERSION}, not {doc.get('apiVersion')!r}"
            )
        kind = doc.get("kind")
        if kind not in KINDS:
            raise OpenSloError(f"{path}.kind", f"{kind!r} is not one of {', '.join(KINDS)}")
        name = check_metadata(doc, path)
        spec = mapping(doc.get("spec"), f"{path}.spec")
        if kind == "SLO":
            check_slo_spec(spec, f"{path}.spec")
            if any(n == name for n, _ in found.slos):
                raise OpenSloError(f"{path}.metadata.name", f"a second SLO named {name!r}")
            found.slos.append((name, doc))
        elif kind == "SLI":
            check_indicator_spec(spec, f"{path}.spec")
            found.slis[name] = doc
        elif kind == "AlertPolicy":
            check_policy_spec(spec, f"{path}.spec")
            found.alert_policies[name] = doc
        elif kind == "AlertCondition":
            check_condition(doc, path)
            found.alert_conditions[name] = doc
        else:
            found.others.append(doc)
    return found
