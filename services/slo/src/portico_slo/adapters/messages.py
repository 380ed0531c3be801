"""Domain events to `portico.events.v1` messages: the protobuf edge of the service."""

from __future__ import annotations

from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_common.timestamps import to_timestamp
from portico_slo.domain.events import SloEvent


def to_message(event: SloEvent) -> Message:
    """The proto payload published for a domain event."""
    return ev.SloViolated(
        tenant_id=event.tenant_id,
        slo_id=event.slo_id,
        plugin=event.plugin,
        version=event.version,
        rule=event.rule,
        short_window_burn_rate=event.short_window_burn_rate,
        long_window_burn_rate=event.long_window_burn_rate,
        threshold=event.threshold,
        detected_at=to_timestamp(event.detected_at),
    )
