"""Domain events to `portico.events.v1` messages: the protobuf edge of the service."""

from __future__ import annotations

from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_common.timestamps import to_timestamp
from portico_slo.domain.events import SloEvent, SloViolated


def to_message(event: SloEvent) -> Message:
    """The proto payload published for a domain event."""
    if isinstance(event, SloViolated):
        return violated_message(event)
    return ev.SloRecovered(
        tenant_id=event.tenant_id,
        slo_id=event.slo_id,
        plugin=event.plugin,
        version=event.version,
        tier=event.tier,
        severity=event.severity,
        violation_id=event.violation_id,
        violated_at=to_timestamp(event.violated_at),
        recovered_at=to_timestamp(event.recovered_at),
        short_window_burn_rate=event.short_window_burn_rate,
        long_window_burn_rate=event.long_window_burn_rate,
        threshold=event.threshold,
        slo_ok=event.slo_ok,
        slo_name=event.name,
        scope=event.scope,
        rollout_id=event.rollout_id,
        team=event.team,
    )


def violated_message(event: SloViolated) -> ev.SloViolated:
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
        tier=event.tier,
        severity=event.severity,
        short_window_seconds=event.short_window_seconds,
        long_window_seconds=event.long_window_seconds,
        short_good=event.short_good,
        short_bad=event.short_bad,
        long_good=event.long_good,
        long_bad=event.long_bad,
        violation_id=event.violation_id,
        slo_name=event.name,
        scope=event.scope,
        rollout_id=event.rollout_id,
        team=event.team,
    )
