"""The protobuf edge: domain events to portico.events.v1 messages, rollouts to the API message."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from portico.events.v1 import events_pb2 as ev
from portico.rollout.v1 import rollout_pb2 as pb
from portico_common.events.catalog import type_of
from portico_rollout.adapters.messages import to_message
from portico_rollout.domain.decisions import Decision, DecisionKind, DecisionSource
from portico_rollout.domain.events import (
    RolloutCompleted,
    RolloutDecisionRecorded,
    RolloutPhaseAdvanced,
    RolloutRefused,
    RolloutRolledBack,
    RolloutStarted,
)
from portico_rollout.domain.rollout import Rollout
from portico_rollout.entrypoints.grpc_api import to_proto

IDS: dict[str, Any] = {"tenant_id": "acme", "rollout_id": "ro-1", "plugin": "p", "version": "2.0.0"}
DECISION = Decision(
    tenant_id="acme",
    rollout_id="ro-1",
    seq=3,
    at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
    kind=DecisionKind.FAIL,
    source=DecisionSource.JUDGMENT,
    phase_index=1,
    percent=25,
    to_percent=0,
    reasons=("judgment score 50: Fail",),
    evidence={
        "canary": {"total": 120, "error_rate": 0.25},
        "judgment": {"score": 50.0, "verdict": "Fail"},
    },
)


def test_a_decision_carries_its_headline_and_its_whole_evidence() -> None:
    """rollout.decision.recorded names the decision, its figures, and the evidence as JSON."""
    message = to_message(RolloutDecisionRecorded(**IDS, occurred_at=DECISION.at, decision=DECISION))
    assert isinstance(message, ev.RolloutDecisionRecorded)
    assert (message.decision_id, message.kind, message.source) == ("ro-1-d3", "fail", "judgment")
    assert (message.percent, message.to_percent, message.phase_index) == (25, 0, 1)
    assert (message.canary_samples, message.canary_error_rate) == (120, 0.25)
    assert (message.judgment_score, message.judgment_verdict) == (50.0, "Fail")
    assert json.loads(message.evidence_json) == DECISION.evidence


def test_every_event_maps_to_its_catalogued_type(t0: datetime) -> None:
    """Each domain event becomes the message the kernel's catalog publishes under its name."""
    events = [
        RolloutStarted(**IDS, occurred_at=t0, stable_version="1.0.0", phases=(10, 100), percent=10),
        RolloutPhaseAdvanced(**IDS, occurred_at=t0, phase_index=1, percent=100),
        RolloutCompleted(**IDS, occurred_at=t0),
        RolloutRefused(**IDS, occurred_at=t0, reasons=("security: bad",)),
        RolloutRolledBack(**IDS, occurred_at=t0, stable_version="1.0.0", reason="slo"),
        RolloutDecisionRecorded(**IDS, occurred_at=t0, decision=DECISION),
    ]
    names = [type_of(to_message(e)) for e in events]
    assert names == [
        "rollout.started",
        "rollout.phase.advanced",
        "rollout.completed",
        "rollout.refused",
        "rollout.rolled_back",
        "rollout.decision.recorded",
    ]
    started = to_message(events[0])
    assert started == ev.RolloutStarted(
        **IDS, stable_version="1.0.0", phases=[10, 100], percent=10, strategy="canary"
    )
    assert to_message(events[3]) == ev.RolloutRefused(**IDS, reasons=["security: bad"])


def test_rolled_back_carries_cause_and_detection_time(t0: datetime) -> None:
    """cause_event_id and violation_detected_at survive the mapping, to the microsecond."""
    detected = t0 + timedelta(microseconds=123456)
    message = to_message(
        RolloutRolledBack(
            **IDS,
            occurred_at=t0,
            stable_version="1.0.0",
            reason="slo",
            cause_event_id="ce-9",
            violation_detected_at=detected,
        )
    )
    assert isinstance(message, ev.RolloutRolledBack)
    assert message.cause_event_id == "ce-9"
    assert message.violation_detected_at.ToDatetime(tzinfo=t0.tzinfo) == detected


def test_manual_rollback_has_no_detection_time(t0: datetime) -> None:
    """Without a violation the timestamp field stays unset rather than the epoch."""
    message = to_message(RolloutRolledBack(**IDS, occurred_at=t0, stable_version="", reason="x"))
    assert not message.HasField("violation_detected_at")


def test_rollout_maps_to_the_api_message(started: Rollout, t0: datetime) -> None:
    """State, share, verdicts, times and history reach the API message."""
    message = to_proto(started)
    assert message.state == pb.ROLLOUT_STATE_IN_PROGRESS
    assert (message.percent, list(message.phases), message.bake_seconds) == (
        10,
        [10, 25, 50, 100],
        600,
    )
    assert message.security_passed
    assert message.compat_passed
    assert message.phase_started_at.ToDatetime(tzinfo=t0.tzinfo) == t0
    assert [h.kind for h in message.history] == [e.kind for e in started.history]


def test_awaiting_rollout_has_no_phase_start(make_rollout: object) -> None:
    """A rollout waiting for checks maps with no phase start and unknown verdicts as false."""
    rollout = make_rollout()  # type: ignore[operator]
    message = to_proto(rollout)
    assert message.state == pb.ROLLOUT_STATE_AWAITING_CHECKS
    assert not message.HasField("phase_started_at")
    assert message.percent == 0
    assert not message.security_passed
