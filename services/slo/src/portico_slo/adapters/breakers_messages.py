"""Breaker events to `portico.events.v1` messages: the protobuf edge of the breakers."""

from __future__ import annotations

from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_common.timestamps import to_timestamp
from portico_slo.domain.breakers_config import BreakerState
from portico_slo.domain.breakers_events import (
    BreakerEvent,
    BreakerFacts,
    BreakerThresholdsExceeded,
    BreakerTransitioned,
)

_BY_STATE: dict[
    BreakerState,
    type[
        ev.BreakerHalfOpened
        | ev.BreakerClosed
        | ev.BreakerForcedOpen
        | ev.BreakerDisabled
        | ev.BreakerMetricsOnly
    ],
] = {
    BreakerState.HALF_OPEN: ev.BreakerHalfOpened,
    BreakerState.CLOSED: ev.BreakerClosed,
    BreakerState.FORCED_OPEN: ev.BreakerForcedOpen,
    BreakerState.DISABLED: ev.BreakerDisabled,
    BreakerState.METRICS_ONLY: ev.BreakerMetricsOnly,
}


def breaker_message(event: BreakerEvent) -> Message:
    """The proto payload published for a breaker event."""
    if isinstance(event, BreakerThresholdsExceeded):
        return ev.BreakerThresholdsExceeded(
            tenant_id=event.facts.tenant_id,
            change=_change(event.facts, summary="thresholds exceeded (metrics only)"),
            failure_rate_exceeded=event.failure_rate_exceeded,
            slow_call_rate_exceeded=event.slow_call_rate_exceeded,
        )
    change = transition_change(event)
    if event.to_state is BreakerState.OPEN:
        opened = ev.BreakerOpened(tenant_id=event.facts.tenant_id, change=change)
        if event.open_until is not None:
            opened.open_until.CopyFrom(to_timestamp(event.open_until))
        return opened
    return _BY_STATE[event.to_state](tenant_id=event.facts.tenant_id, change=change)


def transition_change(event: BreakerTransitioned) -> ev.BreakerChange:
    change = _change(event.facts, summary=event.summary)
    change.from_state = event.from_state.value
    change.to_state = event.to_state.value
    change.reason = event.reason
    change.transition_id = event.transition_id
    change.attempts = event.attempts
    change.actor = event.actor
    change.note = event.note
    return change


def _change(facts: BreakerFacts, *, summary: str) -> ev.BreakerChange:
    return ev.BreakerChange(
        breaker_id=facts.breaker_id,
        plugin=facts.plugin,
        version=facts.version,
        slo_id=facts.slo_id,
        at=to_timestamp(facts.at),
        summary=summary,
        calls=facts.calls,
        failed_calls=facts.failed_calls,
        slow_calls=facts.slow_calls,
        failure_rate=facts.failure_rate,
        slow_call_rate=facts.slow_call_rate,
        failure_rate_threshold=facts.failure_rate_threshold,
        slow_call_rate_threshold=facts.slow_call_rate_threshold,
    )
