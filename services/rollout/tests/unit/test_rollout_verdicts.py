"""How security and compat verdicts start or refuse a rollout."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from portico_rollout.domain.decisions import DecisionSource
from portico_rollout.domain.events import (
    RolloutDecisionRecorded,
    RolloutRefused,
    RolloutRolledBack,
    RolloutStarted,
)
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.testing.evidence import step

MakeRollout = Callable[..., Rollout]


def test_requested_rollout_waits_for_checks(make_rollout: MakeRollout, t0: datetime) -> None:
    """A new rollout waits for both checks and serves nobody."""
    rollout = make_rollout()
    assert rollout.state is RolloutState.AWAITING_CHECKS
    assert rollout.percent == 0
    assert rollout.due_at() is None
    assert [entry.kind for entry in rollout.history] == ["requested"]


def test_one_passed_verdict_is_not_enough(make_rollout: MakeRollout, t0: datetime) -> None:
    """A single passed check records the verdict but does not start the canary."""
    rollout = make_rollout()
    assert rollout.record_security_verdict(True, [], t0) == []
    assert rollout.security_passed is True
    assert rollout.compat_passed is None
    assert rollout.state is RolloutState.AWAITING_CHECKS


def test_both_passed_starts_at_first_phase(make_rollout: MakeRollout, t0: datetime) -> None:
    """When the second check passes, phase 0 goes live and RolloutStarted is emitted."""
    rollout = make_rollout()
    rollout.record_compat_verdict(True, [], t0)
    later = t0 + timedelta(seconds=7)
    events = rollout.record_security_verdict(True, [], later)
    assert events == [
        RolloutStarted(
            tenant_id="acme",
            rollout_id="ro-1",
            plugin="@acme/plugin-cost-insights",
            version="2.3.0",
            occurred_at=later,
            stable_version="2.2.0",
            phases=(10, 25, 50, 100),
            percent=10,
        )
    ]
    assert rollout.state is RolloutState.IN_PROGRESS
    assert rollout.phase_started_at == later
    assert rollout.percent == 10


def test_failed_security_refuses(make_rollout: MakeRollout, t0: datetime) -> None:
    """A failed security verdict refuses the rollout with the reasons given."""
    rollout = make_rollout()
    events = rollout.record_security_verdict(False, ["bad signature", "unknown key"], t0)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, RolloutRefused)
    assert event.reasons == ("security: bad signature", "security: unknown key")
    assert rollout.state is RolloutState.REFUSED
    assert rollout.reason == "security: bad signature; security: unknown key"
    assert rollout.percent == 0


def test_failed_compat_refuses_even_after_security_passed(
    make_rollout: MakeRollout, t0: datetime
) -> None:
    """A failed compat verdict refuses the rollout although security already passed."""
    rollout = make_rollout()
    rollout.record_security_verdict(True, [], t0)
    events = rollout.record_compat_verdict(False, [], t0)
    assert len(events) == 1
    assert isinstance(events[0], RolloutRefused)
    assert events[0].reasons == ("compat check failed",)
    assert rollout.state is RolloutState.REFUSED


def test_repeated_verdict_changes_nothing(make_rollout: MakeRollout, t0: datetime) -> None:
    """Recording the same verdict twice returns no events and leaves no extra history."""
    rollout = make_rollout()
    rollout.record_security_verdict(True, [], t0)
    history = list(rollout.history)
    assert rollout.record_security_verdict(True, [], t0 + timedelta(hours=1)) == []
    assert rollout.history == history


def test_redelivered_start_verdict_does_not_restart(started: Rollout, t0: datetime) -> None:
    """A redelivered passed verdict after the start neither re-emits nor resets the phase."""
    step(started, t0 + timedelta(hours=1))
    before = (started.phase_index, started.phase_started_at, len(started.history))
    assert started.record_compat_verdict(True, [], t0 + timedelta(hours=2)) == []
    assert (started.phase_index, started.phase_started_at, len(started.history)) == before


def test_verdict_after_terminal_state_is_ignored(make_rollout: MakeRollout, t0: datetime) -> None:
    """A verdict that arrives after the rollout is refused returns [] without error."""
    rollout = make_rollout()
    rollout.record_security_verdict(False, ["revoked"], t0)
    assert rollout.record_compat_verdict(True, [], t0) == []
    assert rollout.record_security_verdict(True, [], t0) == []
    assert rollout.state is RolloutState.REFUSED
    assert rollout.compat_passed is None


def test_failed_verdict_during_canary_rolls_back(started: Rollout, t0: datetime) -> None:
    """A check that fails while the canary runs rolls it back, as no user should keep it."""
    decided, *events = started.record_security_verdict(
        False, ["key revoked"], t0 + timedelta(minutes=3)
    )
    assert isinstance(decided, RolloutDecisionRecorded)
    assert decided.decision.source is DecisionSource.CHECKS
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, RolloutRolledBack)
    assert event.reason == "security: key revoked"
    assert event.stable_version == "2.2.0"
    assert started.state is RolloutState.ROLLED_BACK
    assert started.security_passed is False
