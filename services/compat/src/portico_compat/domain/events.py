"""Domain events compat emits; the unit of work publishes them, adapters give them a wire form."""

from __future__ import annotations

from dataclasses import dataclass

from portico_compat.domain.checks import CompatCheck
from portico_compat.domain.compatibility import Finding
from portico_compat.domain.report import DimensionSummary


@dataclass(frozen=True, kw_only=True, slots=True)
class CompatEvent:
    """Fields every compat event carries."""

    tenant_id: str


@dataclass(frozen=True, kw_only=True, slots=True)
class CompatChecked(CompatEvent):
    """A plugin version was checked against the tenant's host and the verdict recorded.

    Incompatible versions are checked too: the findings and dimension verdicts
    say why, and rollout decides on `compatible` alone.
    """

    check_id: str
    plugin: str
    version: str
    compatible: bool
    findings: tuple[Finding, ...]
    dimensions: tuple[DimensionSummary, ...]
    approval_required: bool

    @classmethod
    def of(cls, check: CompatCheck) -> CompatChecked:
        """The event of a recorded check."""
        report = check.report
        return cls(
            tenant_id=check.tenant_id,
            check_id=check.check_id,
            plugin=check.plugin,
            version=check.version,
            compatible=check.compatible,
            findings=report.findings,
            dimensions=tuple(
                DimensionSummary(d.dimension, d.verdict, d.summary) for d in report.dimensions
            ),
            approval_required=report.approval_required,
        )
