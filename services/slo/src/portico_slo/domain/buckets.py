"""Outcomes counted in fixed buckets keyed by epoch second, summed over a window.

These are the reference semantics the Postgres adapter mirrors in SQL:

    bucket = floor(extract(epoch FROM at) / n) * n          -- bucket_key
    WHERE bucket > :now_key - :window AND bucket <= :now_key  -- window_counts

so the fake and the real repository agree event for event. A window of W
seconds ending at `now` is the W/n buckets up to and including the one `now`
falls in; buckets after it (a replica's clock running ahead) are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from portico_slo.domain._time import require_aware
from portico_slo.domain.burn_rate import Counts, WindowSummary
from portico_slo.errors import InvalidWindowError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One classified event: when it happened and whether it was good."""

    at: datetime
    good: bool


def bucket_key(at: datetime, bucket_seconds: int = 1) -> int:
    """The epoch second at which the bucket holding `at` starts."""
    _check_bucket_seconds(bucket_seconds)
    require_aware(at, "outcome time")
    # Integer timedelta division: exact, unlike float timestamps near a boundary.
    return (at - _EPOCH) // timedelta(seconds=bucket_seconds) * bucket_seconds


def aggregate(outcomes: Iterable[Outcome], bucket_seconds: int = 1) -> dict[int, Counts]:
    """Count outcomes per bucket."""
    buckets: dict[int, Counts] = {}
    for outcome in outcomes:
        key = bucket_key(outcome.at, bucket_seconds)
        buckets[key] = buckets.get(key, Counts()) + Counts.of(outcome.good)
    return buckets


def window_counts(
    buckets: Mapping[int, Counts], now: datetime, window_seconds: int, bucket_seconds: int = 1
) -> Counts:
    """Sum the buckets of the `window_seconds` ending at `now` (see the module docstring)."""
    low, high = _bounds(now, window_seconds, bucket_seconds)
    total = Counts()
    for key, counts in buckets.items():
        if low < key <= high:
            total += counts
    return total


def summarize(
    buckets: Mapping[int, Counts], low: int, high: int, timeslice_target: float = 0.0
) -> WindowSummary:
    """The summary of the buckets with keys in (low, high], each judged as a slice."""
    total = WindowSummary()
    for key, counts in buckets.items():
        if low < key <= high:
            total += WindowSummary.of_bucket(counts, timeslice_target)
    return total


def window_span(now: datetime, window_seconds: int, bucket_seconds: int) -> tuple[int, int]:
    """The (low, high] bucket keys of the `window_seconds` ending at `now`."""
    return _bounds(now, window_seconds, bucket_seconds)


def prune(
    buckets: Mapping[int, Counts], now: datetime, keep_seconds: int, bucket_seconds: int = 1
) -> dict[int, Counts]:
    """Drop buckets older than any window of `keep_seconds` ending at `now` could read."""
    low, _ = _bounds(now, keep_seconds, bucket_seconds)
    return {key: counts for key, counts in buckets.items() if key > low}


def _bounds(now: datetime, window_seconds: int, bucket_seconds: int) -> tuple[int, int]:
    _check_bucket_seconds(bucket_seconds)
    # A window that is not whole buckets would silently cover more or less time.
    if window_seconds <= 0 or window_seconds % bucket_seconds:
        raise InvalidWindowError(
            "window_seconds",
            f"{window_seconds} is not a positive multiple of the {bucket_seconds}s bucket",
        )
    high = bucket_key(now, bucket_seconds)
    return high - window_seconds, high


def _check_bucket_seconds(bucket_seconds: int) -> None:
    if bucket_seconds <= 0:
        raise InvalidWindowError("bucket_seconds", f"{bucket_seconds} is not positive")
