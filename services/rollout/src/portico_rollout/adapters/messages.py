"""Domain events to `portico.events.v1` messages: the protobuf edge of the service."""

from __future__ import annotations

from typing import TypedDict

from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_common.timestamps import optional_timestamp
from portico_rollout.domain.events import (
    RolloutCompleted,
    RolloutEvent,
    RolloutPhaseAdvanced,
    RolloutRefused,
    RolloutRequested,
    RolloutRolledBack,
    RolloutStarted,
)


class _Ids(TypedDict):
    """The fields every rollout message shares."""

    tenant_id: str
    rollout_id: str
    plugin: str
    version: str


def to_message(event: RolloutEvent) -> Message:
    """The proto payload published for a domain event."""
    ids = _Ids(
        tenant_id=event.tenant_id,
        rollout_id=event.rollout_id,
        plugin=event.plugin,
        version=event.version,
    )
    match event:
        case RolloutRequested():
            return ev.RolloutRequested(
                **ids,
                stable_version=event.stable_version,
                phases=list(event.phases),
                bake_seconds=event.bake_seconds,
            )
        case RolloutStarted():
            return ev.RolloutStarted(
                **ids,
                stable_version=event.stable_version,
                phases=list(event.phases),
                percent=event.percent,
            )
        case RolloutPhaseAdvanced():
            return ev.RolloutPhaseAdvanced(
                **ids, phase_index=event.phase_index, percent=event.percent
            )
        case RolloutCompleted():
            return ev.RolloutCompleted(**ids)
        case RolloutRefused():
            return ev.RolloutRefused(**ids, reasons=list(event.reasons))
        case RolloutRolledBack():
            return ev.RolloutRolledBack(
                **ids,
                stable_version=event.stable_version,
                reason=event.reason,
                cause_event_id=event.cause_event_id,
                # Unset rather than the epoch for a rollback no violation caused.
                violation_detected_at=optional_timestamp(event.violation_detected_at),
            )
    raise TypeError(f"no message for {type(event).__name__}")
