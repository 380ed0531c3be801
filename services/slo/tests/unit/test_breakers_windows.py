"""The breakers' sliding windows, mirroring resilience4j-core's metrics tests.

FixedSizeSlidingWindowMetricsTest and SlidingTimeWindowMetricsTest, with a
ManualClock for their MockClock; durations are not kept here, so their
total/average duration assertions have no counterpart.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portico_common.clock import ManualClock
from portico_slo.domain.breakers_windows import (
    Call,
    CountWindow,
    Snapshot,
    TimeWindow,
    classify,
    window_of,
)

T0 = datetime(2019, 8, 4, 12, 0, tzinfo=UTC)
S, E, SS, SE = Call.SUCCESS, Call.ERROR, Call.SLOW_SUCCESS, Call.SLOW_ERROR


def counts(snapshot: Snapshot) -> tuple[int, int, int, int, int, int]:
    """(calls, successful, failed, slow, slow successful, slow failed)."""
    return (
        snapshot.calls,
        snapshot.successful,
        snapshot.failed,
        snapshot.slow,
        snapshot.slow_successful,
        snapshot.slow_failed,
    )


@pytest.mark.parametrize(
    ("call", "expected", "failure_rate"),
    [
        (S, (1, 1, 0, 0, 0, 0), 0.0),  # testRecordSuccess
        (E, (1, 0, 1, 0, 0, 0), 100.0),  # testRecordError
        (SS, (1, 1, 0, 1, 1, 0), 0.0),  # testRecordSlowSuccess
    ],
)
@pytest.mark.parametrize("kind", ["count", "time"])
def test_one_call_is_counted_by_its_kind(
    kind: str, call: Call, expected: tuple[int, ...], failure_rate: float
) -> None:
    """testRecordSuccess/Error/SlowSuccess: one call lands in the matching counters."""
    window = CountWindow(10) if kind == "count" else TimeWindow(5)
    snapshot = window.record(call, T0, T0)
    assert counts(snapshot) == expected
    assert snapshot.failure_rate == failure_rate


@pytest.mark.parametrize("kind", ["count", "time"])
def test_slow_calls_percentage(kind: str) -> None:
    """testSlowCallsPercentage: two slow calls of five are a 40% slow-call rate."""
    window = CountWindow(10) if kind == "count" else TimeWindow(5)
    for call in (SS, SE, S, S, S):
        window.record(call, T0, T0)
    snapshot = window.snapshot(T0)
    assert counts(snapshot) == (5, 4, 1, 2, 1, 1)
    assert snapshot.slow_call_rate == 40.0


def test_count_window_slides_by_one_call() -> None:
    """testSlidingWindowMetrics (size 4): the fifth and sixth calls push the oldest out."""
    window = CountWindow(4)
    rates = [window.record(call, T0, T0).failure_rate for call in (E, S, S, S, S)]
    assert rates == [100.0, 50.0, pytest.approx(33.333333), 25.0, 0.0]
    assert counts(window.snapshot(T0)) == (4, 4, 0, 0, 0, 0)


def test_count_window_slides_slow_calls_out() -> None:
    """testSlidingWindowMetricsWithSlowCalls (size 2)."""
    window = CountWindow(2)
    assert counts(window.record(SE, T0, T0)) == (1, 0, 1, 1, 0, 1)
    assert counts(window.record(SS, T0, T0)) == (2, 1, 1, 2, 1, 1)
    assert counts(window.record(S, T0, T0)) == (2, 2, 0, 1, 1, 0)


def test_time_window_clears_after_its_size_in_seconds() -> None:
    """shouldClearSlidingTimeWindowMetrics (5 s): calls of one second leave 5 s later."""
    clock = ManualClock(T0)
    window = TimeWindow(5)
    assert counts(window.record(E, clock.now(), clock.now())) == (1, 0, 1, 0, 0, 0)
    clock.advance(0.1)
    assert counts(window.record(S, clock.now(), clock.now())) == (2, 1, 1, 0, 0, 0)
    clock.advance(0.7)
    assert counts(window.record(SE, clock.now(), clock.now())) == (3, 1, 2, 1, 0, 1)
    clock.advance(4)
    assert window.snapshot(clock.now()).calls == 3
    clock.advance(1)
    assert window.snapshot(clock.now()) == Snapshot()
    clock.advance(0.1)
    assert counts(window.record(S, clock.now(), clock.now())) == (1, 1, 0, 0, 0, 0)
    clock.advance(5)
    assert counts(window.record(S, clock.now(), clock.now())) == (1, 1, 0, 0, 0, 0)


def test_time_window_files_a_late_call_under_its_own_second() -> None:
    """A reported call counts in the second it happened, and not at all once out of the window."""
    window = TimeWindow(5)
    now = T0.replace(second=10)
    window.record(E, T0.replace(second=7), now)
    window.record(E, T0.replace(second=5), now)  # 5 s old: outside (5, 10]
    window.record(S, T0.replace(second=30), now)  # ahead of now: filed under now
    assert counts(window.snapshot(now)) == (2, 1, 1, 0, 0, 0)
    assert window.snapshot(T0.replace(second=11)).calls == 2
    assert window.snapshot(T0.replace(second=12)).calls == 1


@pytest.mark.parametrize(
    ("success", "latency_ms", "call"),
    [(True, 4000, S), (True, 4001, SS), (False, 4000, E), (False, 4001, SE)],
)
def test_a_call_is_slow_only_above_the_threshold(
    success: bool, latency_ms: int, call: Call
) -> None:
    """resilience4j compares duration > slowCallDurationThreshold: equal is not slow."""
    assert classify(success, latency_ms, 4000) is call


@pytest.mark.parametrize("kind", ["count", "time"])
def test_windows_survive_storage(kind: str) -> None:
    """What to_doc stores reads back as the same window, counts and order included."""
    window = CountWindow(3) if kind == "count" else TimeWindow(5)
    for second, call in enumerate((E, S, SE, SS)):
        window.record(call, T0.replace(second=second), T0.replace(second=4))
    copy = window_of(window.to_doc())
    assert copy == window
    assert copy is not None
    assert copy.record(E, T0.replace(second=4), T0.replace(second=4)) == window.record(
        E, T0.replace(second=4), T0.replace(second=4)
    )
    assert window_of(None) is None
