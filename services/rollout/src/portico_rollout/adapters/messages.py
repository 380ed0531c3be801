"""Domain events to `portico.events.v1` messages: the protobuf edge of the service."""

from __future__ import annotations

import json
from typing import TypedDict

from google.protobuf.message import Message

from portico.events.v1 import events_pb2 as ev
from portico_common.timestamps import optional_timestamp, to_timestamp
from portico_rollout.domain.events import (
    InstallRolloutDeclined,
    RolloutCompleted,
    RolloutDecisionRecorded,
    RolloutEvent,
    RolloutPaused,
    RolloutPhaseAdvanced,
    RolloutRefused,
    RolloutRequested,
    RolloutResumed,
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
    message: Message
    match event:
        case RolloutRequested():
            message = ev.RolloutRequested(
                **ids,
                stable_version=event.stable_version,
                phases=list(event.phases),
                bake_seconds=event.bake_seconds,
            )
        case RolloutStarted():
            message = ev.RolloutStarted(
                **ids,
                stable_version=event.stable_version,
                phases=list(event.phases),
                percent=event.percent,
                strategy=event.strategy,
            )
        case RolloutPhaseAdvanced():
            message = ev.RolloutPhaseAdvanced(
                **ids, phase_index=event.phase_index, percent=event.percent
            )
        case RolloutPaused() | RolloutResumed():
            message = _control_message(event, ids)
        case RolloutCompleted():
            message = ev.RolloutCompleted(**ids)
        case RolloutRefused():
            message = ev.RolloutRefused(**ids, reasons=list(event.reasons))
        case InstallRolloutDeclined():
            message = ev.RolloutInstallDeclined(
                tenant_id=event.tenant_id,
                request_id=event.request_id,
                plugin=event.plugin,
                version=event.version,
                reason=event.reason,
            )
        case RolloutRolledBack():
            message = ev.RolloutRolledBack(
                **ids,
                stable_version=event.stable_version,
                reason=event.reason,
                cause_event_id=event.cause_event_id,
                # Unset rather than the epoch for a rollback no violation caused.
                violation_detected_at=optional_timestamp(event.violation_detected_at),
                cause_rollout_id=event.cause_rollout_id,
                after_completion=event.after_completion,
            )
        case RolloutDecisionRecorded():
            message = decision_message(event)
        case _:
            raise TypeError(f"no message for {type(event).__name__}")
    return message


def _control_message(
    event: RolloutPaused | RolloutResumed, ids: _Ids
) -> ev.RolloutPaused | ev.RolloutResumed:
    cls = ev.RolloutPaused if isinstance(event, RolloutPaused) else ev.RolloutResumed
    return cls(
        **ids,
        phase_index=event.phase_index,
        percent=event.percent,
        actor=event.actor,
        reason=event.reason,
    )


def decision_message(event: RolloutDecisionRecorded) -> ev.RolloutDecisionRecorded:
    """The decision, its headline figures, and its whole evidence as JSON."""
    decision = event.decision
    canary = decision.evidence.get("canary") or {}
    judgment = decision.evidence.get("judgment") or {}
    return ev.RolloutDecisionRecorded(
        tenant_id=event.tenant_id,
        rollout_id=event.rollout_id,
        plugin=event.plugin,
        version=event.version,
        decision_id=decision.decision_id,
        kind=decision.kind.value,
        source=decision.source.value,
        phase_index=decision.phase_index,
        percent=decision.percent,
        to_percent=decision.to_percent,
        reasons=list(decision.reasons),
        decided_at=to_timestamp(decision.at),
        canary_samples=int(canary.get("total", 0)),
        canary_error_rate=float(canary.get("error_rate", 0.0)),
        judgment_score=float(judgment.get("score", 0.0)),
        judgment_verdict=str(judgment.get("verdict", "")),
        evidence_json=json.dumps(decision.evidence, sort_keys=True, allow_nan=False),
        attempt=decision.attempt,
    )
