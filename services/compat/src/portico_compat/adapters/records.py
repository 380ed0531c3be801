"""How checks, catalogs, manifests and policies are written as JSON, for every adapter."""

from __future__ import annotations

from typing import Any

from portico_compat.domain.apis import ApiProvision, ApiRequirement, HostApi
from portico_compat.domain.compatibility import Dimension, DimensionReport, Finding
from portico_compat.domain.permissions import Decision, PermissionRule
from portico_compat.domain.report import ReportDimension, Verdict
from portico_compat.domain.resources import Resources


def finding_to_json(finding: Finding) -> dict[str, Any]:
    return {
        "dimension": finding.dimension.value,
        "name": finding.name,
        "required_range": finding.required_range,
        "host_version": finding.host_version,
        "satisfied": finding.satisfied,
        "reason": finding.reason,
        "verdict": finding.outcome.label,
    }


def finding_from_json(data: dict[str, Any]) -> Finding:
    # Rows written before verdicts existed carry none: PASS or FAIL from `satisfied`.
    verdict = data.get("verdict")
    return Finding(
        dimension=Dimension(data["dimension"]),
        name=data["name"],
        required_range=data["required_range"],
        host_version=data["host_version"],
        satisfied=bool(data["satisfied"]),
        reason=data["reason"],
        verdict=Verdict[verdict.upper()] if isinstance(verdict, str) else None,
    )


def dimension_to_json(report: DimensionReport) -> dict[str, Any]:
    return {
        "dimension": report.dimension.value,
        "verdict": report.verdict.label,
        "summary": report.summary,
        "findings": [finding_to_json(f) for f in report.findings],
    }


def dimension_from_json(data: dict[str, Any]) -> DimensionReport:
    return DimensionReport(
        ReportDimension(data["dimension"]),
        Verdict[data["verdict"].upper()],
        data["summary"],
        tuple(finding_from_json(f) for f in data["findings"]),
    )


Declared = tuple[
    tuple[ApiRequirement, ...], tuple[ApiProvision, ...], tuple[str, ...], Resources | None
]


def declared_to_json(
    consumes: tuple[ApiRequirement, ...],
    provides: tuple[ApiProvision, ...],
    permissions: tuple[str, ...],
    resources: Resources | None = None,
) -> dict[str, Any]:
    """What a checked version declared, kept as the baseline of a later upgrade."""
    declared: dict[str, Any] = {
        "consumes": [{"name": c.name, "range": c.range} for c in consumes],
        "provides": [{"name": p.name, "version": p.version} for p in provides],
        "permissions": list(permissions),
    }
    if resources is not None:
        declared["resources"] = {
            "cpu_millicores": resources.cpu_millicores,
            "memory_mib": resources.memory_mib,
            "storage_mib": resources.storage_mib,
        }
    return declared


def declared_from_json(data: dict[str, Any]) -> Declared:
    resources = data.get("resources")
    return (
        tuple(ApiRequirement(c["name"], c["range"]) for c in data.get("consumes", [])),
        tuple(ApiProvision(p["name"], p["version"]) for p in data.get("provides", [])),
        tuple(data.get("permissions", [])),
        None if resources is None else Resources(**resources),
    )


def api_to_json(api: HostApi) -> dict[str, Any]:
    return {
        "name": api.name,
        "version": api.version,
        "deprecation": api.deprecation,
        "removed": api.removed,
        "replacement": api.replacement,
    }


def api_from_json(data: dict[str, Any]) -> HostApi:
    return HostApi(
        data["name"], data["version"], data["deprecation"], data["removed"], data["replacement"]
    )


def rule_to_json(rule: PermissionRule) -> dict[str, str]:
    return {"pattern": rule.pattern, "decision": rule.decision.value}


def rule_from_json(data: dict[str, str]) -> PermissionRule:
    return PermissionRule(data["pattern"], Decision(data["decision"]))
