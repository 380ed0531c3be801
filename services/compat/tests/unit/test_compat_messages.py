"""Domain events on the wire: `plugin.compat.checked` carries every field of the check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portico.events.v1 import events_pb2
from portico_common.events.catalog import type_of
from portico_compat.adapters.messages import subject_of, to_message
from portico_compat.domain.checks import CompatCheck
from portico_compat.domain.compatibility import (
    CompatReport,
    Dimension,
    DimensionReport,
    Finding,
)
from portico_compat.domain.events import CompatChecked, CompatEvent
from portico_compat.domain.report import ReportDimension, Verdict

FINDINGS = (
    Finding(Dimension.RUNTIME, "node", ">=18", "20.11.1", True, "20.11.1 satisfies '>=18'"),
    Finding(Dimension.PEER, "react", "^19.0.0", "18.3.1", False, "18.3.1 does not satisfy"),
    Finding(
        Dimension.PERMISSIONS, "kube.exec", "", "", False, "needs approval", Verdict.NEEDS_APPROVAL
    ),
)
CHECK = CompatCheck(
    "7d1c6a4e-0000-4000-8000-000000000001",
    "acme",
    "@acme/plugin-cost-insights",
    "2.3.0-rc.1",
    CompatReport(
        compatible=False,
        findings=FINDINGS,
        dimensions=(
            DimensionReport(ReportDimension.API, Verdict.PASS, "no APIs consumed"),
            DimensionReport(ReportDimension.RUNTIME, Verdict.FAIL, "2 checked: 1 fail, 1 pass"),
            DimensionReport(
                ReportDimension.PERMISSIONS, Verdict.NEEDS_APPROVAL, "1 checked: 1 needs approval"
            ),
        ),
    ),
    datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
)


def test_compat_checked_maps_every_field_of_the_check() -> None:
    """Findings, dimension verdicts (lower-case labels) and approval_required, field by field."""
    message = to_message(CompatChecked.of(CHECK))
    assert message == events_pb2.CompatChecked(
        tenant_id="acme",
        check_id="7d1c6a4e-0000-4000-8000-000000000001",
        plugin="@acme/plugin-cost-insights",
        version="2.3.0-rc.1",
        compatible=False,
        findings=[
            events_pb2.CompatFinding(
                dimension="runtime",
                name="node",
                required_range=">=18",
                host_version="20.11.1",
                satisfied=True,
                reason="20.11.1 satisfies '>=18'",
            ),
            events_pb2.CompatFinding(
                dimension="peer",
                name="react",
                required_range="^19.0.0",
                host_version="18.3.1",
                satisfied=False,
                reason="18.3.1 does not satisfy",
            ),
            events_pb2.CompatFinding(
                dimension="permissions", name="kube.exec", reason="needs approval"
            ),
        ],
        dimensions=[
            events_pb2.DimensionVerdict(
                dimension="api", verdict="pass", summary="no APIs consumed"
            ),
            events_pb2.DimensionVerdict(
                dimension="runtime", verdict="fail", summary="2 checked: 1 fail, 1 pass"
            ),
            events_pb2.DimensionVerdict(
                dimension="permissions",
                verdict="needs_approval",
                summary="1 checked: 1 needs approval",
            ),
        ],
        approval_required=True,
    )
    assert type_of(message) == "plugin.compat.checked"


def test_the_subject_is_the_plugin_version() -> None:
    """The CloudEvent subject names what was checked: `<plugin>@<version>`."""
    assert subject_of(CompatChecked.of(CHECK)) == "@acme/plugin-cost-insights@2.3.0-rc.1"


def test_an_event_without_a_mapping_is_refused() -> None:
    """A domain event the edge does not know is a programming error, never a silent drop."""
    with pytest.raises(TypeError, match="no message for CompatEvent"):
        to_message(CompatEvent(tenant_id="acme"))
    with pytest.raises(TypeError, match="no subject for CompatEvent"):
        subject_of(CompatEvent(tenant_id="acme"))
