"""How a started canary bakes, grows phase by phase and completes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from portico_rollout.domain.events import RolloutCompleted, RolloutPhaseAdvanced
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.state import RolloutState
from portico_rollout.testing.evidence import step

BAKE = timedelta(seconds=600)
MakeRollout = Callable[..., Rollout]


def test_nothing_happens_before_bake_ends(started: Rollout, t0: datetime) -> None:
    """One second before the bake ends, the phase does not advance."""
    assert step(started, t0 + BAKE - timedelta(seconds=1)) == []
    assert started.percent == 10


def test_advances_exactly_when_bake_ends(started: Rollout, t0: datetime) -> None:
    """At the bake deadline the share grows to the next phase and the event says so."""
    events = step(started, t0 + BAKE)
    assert events == [
        RolloutPhaseAdvanced(
            tenant_id="acme",
            rollout_id="ro-1",
            plugin="@acme/plugin-cost-insights",
            version="2.3.0",
            occurred_at=t0 + BAKE,
            phase_index=1,
            percent=25,
        )
    ]
    assert started.percent == 25


def test_due_at_is_end_of_current_bake(started: Rollout, t0: datetime) -> None:
    """due_at tells a scheduler when the current phase has baked."""
    assert started.due_at() == t0 + BAKE
    step(started, t0 + BAKE)
    assert started.due_at() == t0 + 2 * BAKE


def test_late_scheduler_moves_one_phase_per_call(started: Rollout, t0: datetime) -> None:
    """A call hours late advances one phase only, and the new phase bakes in full from then."""
    late = t0 + timedelta(hours=5)
    assert len(step(started, late)) == 1
    assert started.percent == 25
    assert step(started, late + BAKE - timedelta(seconds=1)) == []
    assert started.due_at() == late + BAKE


def test_full_share_bakes_before_completing(started: Rollout, t0: datetime) -> None:
    """Reaching 100% does not complete the rollout; the 100% phase bakes first."""
    now = t0
    for _ in range(3):
        now += BAKE
        step(started, now)
    assert started.percent == 100
    assert started.due_at() == now + BAKE
    assert step(started, now + BAKE - timedelta(seconds=1)) == []
    events = step(started, now + BAKE)
    assert [type(e) for e in events] == [RolloutCompleted]
    assert started.state is RolloutState.COMPLETED
    assert started.percent == 100


def test_hours_of_canary_yield_each_event_once(started: Rollout, t0: datetime) -> None:
    """Ticking every minute for three hours emits three advances then one completion."""
    kinds: list[str] = []
    for minute in range(1, 181):
        events = step(started, t0 + timedelta(minutes=minute))
        kinds += [type(e).__name__ for e in events]
    assert kinds == ["RolloutPhaseAdvanced"] * 3 + ["RolloutCompleted"]
    assert [e.kind for e in started.history][-4:] == [
        "phase_advanced",
        "phase_advanced",
        "phase_advanced",
        "completed",
    ]


def test_completed_rollout_stays_completed(started: Rollout, t0: datetime) -> None:
    """After completion further ticks return nothing and due_at is None."""
    now = t0
    for _ in range(4):
        now += BAKE
        step(started, now)
    assert step(started, now + timedelta(days=1)) == []
    assert started.due_at() is None


def test_awaiting_rollout_never_advances(make_rollout: MakeRollout, t0: datetime) -> None:
    """A rollout still waiting for checks does not advance however long it waits."""
    rollout = make_rollout()
    assert step(rollout, t0 + timedelta(days=30)) == []
    assert rollout.state is RolloutState.AWAITING_CHECKS


def test_zero_bake_advances_on_each_call(make_rollout: MakeRollout, t0: datetime) -> None:
    """With no bake time every call moves one step, so four calls complete a default canary."""
    rollout = make_rollout(bake_seconds=0)
    rollout.record_security_verdict(True, [], t0)
    rollout.record_compat_verdict(True, [], t0)
    percents = []
    for _ in range(4):
        step(rollout, t0)
        percents.append(rollout.percent)
    assert percents == [25, 50, 100, 100]
    assert rollout.state is RolloutState.COMPLETED


def test_custom_phases_are_followed(make_rollout: MakeRollout, t0: datetime) -> None:
    """A rollout with phases (1, 100) goes from 1% straight to 100%."""
    rollout = make_rollout(phases=[1, 100])
    rollout.record_security_verdict(True, [], t0)
    rollout.record_compat_verdict(True, [], t0)
    assert rollout.percent == 1
    step(rollout, t0 + BAKE)
    assert rollout.percent == 100
