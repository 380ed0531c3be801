"""How outcomes are bucketed by epoch second and summed over a window ending now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from portico_slo.domain.buckets import Outcome, aggregate, bucket_key, prune, window_counts
from portico_slo.domain.burn_rate import Counts
from portico_slo.errors import InvalidOutcomeError, InvalidWindowError


def test_bucket_key_is_floored_epoch_second() -> None:
    """Sub-second times fall in the bucket of their whole epoch second."""
    at = datetime(1970, 1, 1, 0, 1, 40, 999_999, tzinfo=UTC)
    assert bucket_key(at) == 100
    assert bucket_key(at, 30) == 90
    assert bucket_key(datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC)) == -1


def test_bucket_key_ignores_the_offset() -> None:
    """The same instant in two offsets lands in the same bucket."""
    at = datetime(2026, 3, 1, 12, 0, 7, tzinfo=UTC)
    assert bucket_key(at.astimezone(timezone(timedelta(hours=-5)))) == bucket_key(at)


def test_naive_time_is_refused() -> None:
    """A time without a timezone is refused rather than guessed."""
    with pytest.raises(InvalidOutcomeError):
        bucket_key(datetime(2026, 3, 1))  # noqa: DTZ001 - the point of the test


def test_aggregate_counts_per_bucket(t0: datetime) -> None:
    """Outcomes in the same bucket add up; others get their own bucket."""
    second = timedelta(seconds=1)
    outcomes = [
        Outcome(t0, True),
        Outcome(t0 + second / 2, False),
        Outcome(t0 + 3 * second, True),
    ]
    key = bucket_key(t0)
    assert aggregate(outcomes) == {key: Counts(1, 1), key + 3: Counts(1, 0)}
    assert aggregate(outcomes, 10) == {bucket_key(t0, 10): Counts(2, 1)}


def test_window_includes_current_second_and_excludes_its_edge(t0: datetime) -> None:
    """A 300 s window ending now holds the 300 buckets up to now's, not the one before."""
    now_key = bucket_key(t0)
    buckets = {
        now_key: Counts(1, 0),
        now_key - 299: Counts(0, 1),
        now_key - 300: Counts(100, 100),
        now_key + 1: Counts(50, 50),
    }
    assert window_counts(buckets, t0, 300) == Counts(1, 1)


def test_windows_over_hours_of_traffic(t0: datetime) -> None:
    """Over two hours of one event a second, 5m and 1h windows see 300 and 3600 events."""
    outcomes = [Outcome(t0 + timedelta(seconds=s), s % 10 != 0) for s in range(7200)]
    now = t0 + timedelta(seconds=7199)
    for bucket_seconds in (1, 10, 60):
        buckets = aggregate(outcomes, bucket_seconds)
        assert window_counts(buckets, now, 300, bucket_seconds) == Counts(270, 30)
        assert window_counts(buckets, now, 3600, bucket_seconds) == Counts(3240, 360)


def test_window_must_be_whole_buckets(t0: datetime) -> None:
    """A window that is not a multiple of the bucket size is refused."""
    with pytest.raises(InvalidWindowError, match="multiple"):
        window_counts({}, t0, 305, 10)
    with pytest.raises(InvalidWindowError, match="bucket_seconds"):
        window_counts({}, t0, 300, 0)


def test_prune_keeps_exactly_what_a_window_reads(t0: datetime) -> None:
    """Pruning to the long window drops only buckets that window would never read."""
    now_key = bucket_key(t0)
    buckets = {now_key - age: Counts(1, 0) for age in range(0, 5000, 7)}
    kept = prune(buckets, t0, 3600)
    assert window_counts(kept, t0, 3600) == window_counts(buckets, t0, 3600)
    assert min(kept) > now_key - 3600
    assert len(kept) < len(buckets)
