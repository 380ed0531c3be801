"""Domain events to `portico.events.v1` messages: the protobuf edge of the service."""

from __future__ import annotations

from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_compat.domain.events import CompatChecked, CompatEvent


def to_message(event: CompatEvent) -> Message:
    """The proto payload published for a domain event."""
    match event:
        case CompatChecked():
            return ev.CompatChecked(
                tenant_id=event.tenant_id,
                check_id=event.check_id,
                plugin=event.plugin,
                version=event.version,
                compatible=event.compatible,
                findings=[
                    ev.CompatFinding(
                        dimension=str(f.dimension),
                        name=f.name,
                        required_range=f.required_range,
                        host_version=f.host_version,
                        satisfied=f.satisfied,
                        reason=f.reason,
                    )
                    for f in event.findings
                ],
                dimensions=[
                    ev.DimensionVerdict(
                        dimension=str(d.dimension), verdict=d.verdict.label, summary=d.summary
                    )
                    for d in event.dimensions
                ],
                approval_required=event.approval_required,
            )
    raise TypeError(f"no message for {type(event).__name__}")


def subject_of(event: CompatEvent) -> str:
    """The CloudEvent subject: what the event is about (`<plugin>@<version>`)."""
    match event:
        case CompatChecked():
            return f"{event.plugin}@{event.version}"
    raise TypeError(f"no subject for {type(event).__name__}")
