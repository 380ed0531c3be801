"""The restart policy of `portico up`: backoff, reset after a stable run, giving up."""

from __future__ import annotations

from portico_cli.restarts import GiveUp, Restart, RestartPolicy, RestartTracker
from portico_common.clock import ManualClock

POLICY = RestartPolicy(
    initial_backoff_seconds=0.5,
    max_backoff_seconds=4.0,
    max_restarts=5,
    window_seconds=60.0,
    stable_seconds=30.0,
)


def _tracker() -> tuple[RestartTracker, ManualClock]:
    clock = ManualClock()
    tracker = RestartTracker("rollout", clock, POLICY)
    tracker.started()
    return tracker, clock


def test_crashes_in_a_row_double_the_backoff_up_to_its_cap() -> None:
    """0.5 s, 1 s, 2 s, 4 s, then 4 s again: each crash soon after its restart waits longer."""
    tracker, clock = _tracker()
    policy = RestartPolicy(max_restarts=10, max_backoff_seconds=4.0, window_seconds=600)
    tracker.policy = policy
    delays = []
    for _ in range(5):
        clock.advance(seconds=1)
        decision = tracker.exited("was killed by SIGKILL")
        assert isinstance(decision, Restart)
        delays.append(decision.delay_seconds)
        tracker.restarted()
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_a_stable_run_starts_the_backoff_over() -> None:
    """A process that ran longer than stable_seconds before dying waits the first step again."""
    tracker, clock = _tracker()
    clock.advance(seconds=1)
    tracker.exited("exited with code 1")
    tracker.restarted()
    clock.advance(seconds=1)
    assert tracker.exited("exited with code 1") == Restart(1.0)
    tracker.restarted()
    clock.advance(seconds=31)
    assert tracker.exited("exited with code 1") == Restart(0.5)


def test_too_many_crashes_within_the_window_give_up_with_a_reason() -> None:
    """The sixth crash within a minute gives up, saying how it died and how often."""
    tracker, clock = _tracker()
    for _ in range(5):
        clock.advance(seconds=2)
        assert isinstance(tracker.exited("exited with code 1"), Restart)
        tracker.restarted()
    clock.advance(seconds=2)
    decision = tracker.exited("exited with code 1")
    assert decision == GiveUp(
        "rollout exited with code 1; it crashed 6 times within 60s, so portico up gives up on it"
    )


def test_crashes_older_than_the_window_are_forgotten() -> None:
    """Crashes spread over more than the window never add up to giving up."""
    tracker, clock = _tracker()
    for _ in range(20):
        clock.advance(seconds=20)
        assert isinstance(tracker.exited("was killed by SIGKILL"), Restart)
        tracker.restarted()
    assert tracker.record.restarts == 20


def test_the_record_has_restarts_uptime_and_the_last_exit() -> None:
    """What `portico status` shows: restarts so far, uptime since the last start, last exit."""
    tracker, clock = _tracker()
    clock.advance(seconds=3)
    tracker.exited("was killed by SIGKILL")
    assert tracker.uptime_seconds() == 0.0
    tracker.restarted()
    clock.advance(seconds=7)
    assert tracker.record.restarts == 1
    assert tracker.record.last_exit == "was killed by SIGKILL"
    assert tracker.uptime_seconds() == 7.0
