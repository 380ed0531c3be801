"""How findings are written as JSON rows, shared by every adapter that stores them."""

from __future__ import annotations

from typing import Any

from portico_compat.domain.compatibility import Dimension, Finding


def finding_to_json(finding: Finding) -> dict[str, Any]:
    return {
        "dimension": finding.dimension.value,
        "name": finding.name,
        "required_range": finding.required_range,
        "host_version": finding.host_version,
        "satisfied": finding.satisfied,
        "reason": finding.reason,
    }


def finding_from_json(data: dict[str, Any]) -> Finding:
    return Finding(
        dimension=Dimension(data["dimension"]),
        name=data["name"],
        required_range=data["required_range"],
        host_version=data["host_version"],
        satisfied=bool(data["satisfied"]),
        reason=data["reason"],
    )
