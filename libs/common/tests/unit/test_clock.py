"""The Clock port: the real clock and the one tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portico_common.clock import ManualClock, SystemClock


def test_system_clock_tells_aware_utc_time() -> None:
    """SystemClock returns the current time, timezone-aware in UTC."""
    before = datetime.now(UTC)
    now = SystemClock().now()
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= datetime.now(UTC)


def test_manual_clock_starts_at_a_fixed_aware_instant() -> None:
    """Without a start, ManualClock starts at 2026-01-01 UTC, so tests are reproducible."""
    assert ManualClock().now() == datetime(2026, 1, 1, tzinfo=UTC)


def test_manual_clock_stands_still_until_moved() -> None:
    """Reading the manual clock twice gives the same time."""
    clock = ManualClock()
    assert clock.now() == clock.now()


def test_advance_moves_by_seconds_and_returns_the_new_time() -> None:
    """advance(90) moves the clock 90 seconds and returns where it now is."""
    clock = ManualClock()
    assert clock.advance(90) == datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC)
    assert clock.now() == datetime(2026, 1, 1, 0, 1, 30, tzinfo=UTC)


def test_advance_accepts_timedelta_units() -> None:
    """advance(hours=2, minutes=5) adds both, so hours of rollout pass in one call."""
    clock = ManualClock(datetime(2026, 5, 1, tzinfo=UTC))
    clock.advance(hours=2, minutes=5)
    assert clock.now() == datetime(2026, 5, 1, 2, 5, tzinfo=UTC)


def test_set_jumps_to_an_instant() -> None:
    """set() puts the clock at the given time, even backwards."""
    clock = ManualClock()
    clock.set(datetime(2025, 12, 31, tzinfo=UTC))
    assert clock.now() == datetime(2025, 12, 31, tzinfo=UTC)


def test_naive_start_is_refused() -> None:
    """A naive start time would make every comparison with aware times fail later."""
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 1, 1))  # noqa: DTZ001 - the naive time is the point


def test_naive_set_is_refused() -> None:
    """set() with a naive time is refused and leaves the clock where it was."""
    clock = ManualClock()
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 6, 1))  # noqa: DTZ001 - the naive time is the point
    assert clock.now() == datetime(2026, 1, 1, tzinfo=UTC)
