"""How a rollout is rolled back, and why late or repeated rollbacks are harmless."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from portico_rollout.domain.decisions import DecisionKind, DecisionSource
from portico_rollout.domain.events import (
    RolloutDecisionRecorded,
    RolloutRefused,
    RolloutRolledBack,
)
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.errors import InvalidRolloutError, InvalidTransitionError
from portico_rollout.testing.evidence import step

MakeRollout = Callable[..., Rollout]


def test_rollback_during_canary(started: Rollout, t0: datetime) -> None:
    """Rolling back a canary drops its share to 0 and carries the cause through."""
    step(started, t0 + timedelta(minutes=10))
    detected = t0 + timedelta(minutes=12)
    now = detected + timedelta(milliseconds=40)
    events = started.roll_back(
        "burn rate >= 14.4 over 5m and 1h", now, "evt-42", violation_detected_at=detected
    )
    decided, *rest = events
    assert isinstance(decided, RolloutDecisionRecorded)
    assert (decided.decision.kind, decided.decision.source) == (
        DecisionKind.ROLLBACK,
        DecisionSource.SLO,
    )
    assert (decided.decision.percent, decided.decision.to_percent) == (25, 0)
    assert decided.decision.evidence["trigger"]["cause_event_id"] == "evt-42"
    assert rest == [
        RolloutRolledBack(
            tenant_id="acme",
            rollout_id="ro-1",
            plugin="@acme/plugin-cost-insights",
            version="2.3.0",
            occurred_at=now,
            stable_version="2.2.0",
            reason="burn rate >= 14.4 over 5m and 1h",
            cause_event_id="evt-42",
            violation_detected_at=detected,
        )
    ]
    assert started.state is RolloutState.ROLLED_BACK
    assert started.percent == 0
    assert started.due_at() is None
    assert started.history[-1].kind == "rolled_back"
    assert "evt-42" in started.history[-1].detail


def test_second_rollback_is_a_no_op(started: Rollout, t0: datetime) -> None:
    """A redelivered violation after the rollback returns [] and records nothing."""
    started.roll_back("first", t0)
    history = list(started.history)
    assert started.roll_back("again", t0 + timedelta(seconds=1), "evt-43") == []
    assert started.history == history
    assert started.reason == "first"


def test_rollback_after_completion_is_a_no_op(started: Rollout, t0: datetime) -> None:
    """A violation arriving after completion neither errors nor changes the rollout."""
    now = t0
    for _ in range(4):
        now += timedelta(seconds=600)
        step(started, now)
    assert started.state is RolloutState.COMPLETED
    assert started.roll_back("late violation", now + timedelta(minutes=1)) == []
    assert started.state is RolloutState.COMPLETED


def test_rolled_back_rollout_does_not_advance(started: Rollout, t0: datetime) -> None:
    """Once rolled back, a scheduler tick can never push the share up again."""
    started.roll_back("bad", t0)
    assert step(started, t0 + timedelta(days=1)) == []
    assert started.percent == 0


def test_rollback_before_start_refuses(make_rollout: MakeRollout, t0: datetime) -> None:
    """Rolling back a rollout still waiting for checks refuses it, so it never starts."""
    rollout = make_rollout()
    decided, *events = rollout.roll_back("operator abort", t0)
    assert isinstance(decided, RolloutDecisionRecorded)
    assert decided.decision.kind is DecisionKind.ROLLBACK
    assert len(events) == 1
    assert isinstance(events[0], RolloutRefused)
    assert events[0].reasons == ("operator abort",)
    assert rollout.state is RolloutState.REFUSED
    rollout.record_security_verdict(True, [], t0)
    assert rollout.record_compat_verdict(True, [], t0) == []
    assert rollout.percent == 0


def test_rollback_needs_a_reason(started: Rollout, t0: datetime) -> None:
    """An empty reason is rejected and the canary keeps running."""
    with pytest.raises(InvalidRolloutError, match="reason"):
        started.roll_back("", t0)
    assert started.state is RolloutState.IN_PROGRESS


def test_transition_table_is_enforced(started: Rollout, t0: datetime) -> None:
    """The single state-changing step refuses a move the table forbids."""
    started.roll_back("bad", t0)
    with pytest.raises(InvalidTransitionError, match="ROLLED_BACK to IN_PROGRESS"):
        started._move_to(RolloutState.IN_PROGRESS, t0, "resurrect")
    assert started.state is RolloutState.ROLLED_BACK


def test_terminal_states_allow_no_moves_but_a_completed_rollback() -> None:
    """Finished rollouts move nowhere, except a completed one back when a version it needs goes."""
    terminal = {state for state in RolloutState if state.is_terminal}
    assert terminal == {RolloutState.COMPLETED, RolloutState.ROLLED_BACK, RolloutState.REFUSED}
    moves = {(s, t) for s in terminal for t in RolloutState if s.can_move_to(t)}
    assert moves == {(RolloutState.COMPLETED, RolloutState.ROLLED_BACK)}
