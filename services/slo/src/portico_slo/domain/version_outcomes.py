"""Per-version outcome tallies per second, and the series a canary is judged on.

An SLO counts good and bad; judging a canary against its baseline needs more:
how many requests, how many failed, and how slow they were, per version and
per interval. Each second of a version gets one tally: counts, the latency
sum (for the mean) and a fixed histogram of latencies (for percentiles), so
storage grows with seconds of traffic, not with requests.

Percentiles are read off the histogram as Prometheus' `histogram_quantile`
does: linear within the bucket that holds the rank; a rank in the overflow
bucket reads as the highest finite bound.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from portico_slo.domain._time import require_aware
from portico_slo.errors import InvalidWindowError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Upper bounds in milliseconds: 1..10 by 1, 10..100 by 10, 100..1000 by 100,
# 1 s..10 s by 1 s, then 15, 20, 30, 60 s. A last, open bucket holds the rest.
LATENCY_BOUNDS_MS: tuple[int, ...] = (
    *range(1, 10),
    *range(10, 100, 10),
    *range(100, 1000, 100),
    *range(1000, 10_001, 1000),
    15_000,
    20_000,
    30_000,
    60_000,
)
BUCKETS = len(LATENCY_BOUNDS_MS) + 1
# The longest range one request may ask for: a week of seconds.
MAX_RANGE_SECONDS = 7 * 24 * 3600
MAX_INTERVALS = 10_000


def _bucket_of(latency_ms: int) -> int:
    """The histogram bucket of a latency: the first bound it does not exceed."""
    return bisect_left(LATENCY_BOUNDS_MS, latency_ms)


@dataclass(frozen=True, slots=True)
class Tally:
    """Outcomes of one version in some span: counts, latency sum and histogram."""

    total: int = 0
    errors: int = 0
    latency_sum_ms: int = 0
    histogram: tuple[int, ...] = field(default=(0,) * BUCKETS)

    def __post_init__(self) -> None:
        if len(self.histogram) != BUCKETS:
            raise InvalidWindowError(
                "histogram", f"has {len(self.histogram)} buckets, not {BUCKETS}"
            )

    @classmethod
    def of(cls, success: bool, latency_ms: int) -> Tally:
        histogram = [0] * BUCKETS
        histogram[_bucket_of(latency_ms)] = 1
        return cls(1, 0 if success else 1, latency_ms, tuple(histogram))

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.total + other.total,
            self.errors + other.errors,
            self.latency_sum_ms + other.latency_sum_ms,
            tuple(a + b for a, b in zip(self.histogram, other.histogram, strict=True)),
        )

    @property
    def mean_ms(self) -> float:
        return self.latency_sum_ms / self.total if self.total else 0.0

    def percentile_ms(self, q: float) -> float:
        """The q-quantile (0 < q <= 1) of the latencies; 0.0 when there are none."""
        count = sum(self.histogram)
        if count == 0:
            return 0.0
        rank = q * count
        seen = 0
        for index, in_bucket in enumerate(self.histogram):
            if in_bucket and seen + in_bucket >= rank:
                if index == len(LATENCY_BOUNDS_MS):
                    return float(LATENCY_BOUNDS_MS[-1])
                low = 0.0 if index == 0 else float(LATENCY_BOUNDS_MS[index - 1])
                high = float(LATENCY_BOUNDS_MS[index])
                return low + (high - low) * (rank - seen) / in_bucket
            seen += in_bucket
        return float(LATENCY_BOUNDS_MS[-1])  # pragma: no cover - the loop always returns


def second_of(at: datetime) -> int:
    """The epoch second `at` falls in."""
    require_aware(at, "outcome time")
    return (at - _EPOCH) // timedelta(seconds=1)


def tally(outcomes: Iterable[tuple[datetime, bool, int]]) -> dict[int, Tally]:
    """(time, success, latency) outcomes as one tally per epoch second.

    Counted in plain lists, one Tally per second at the end: a report's batch
    is tallied while its SLOs are locked, so per-outcome objects would stretch
    the time other reports wait.
    """
    counts: dict[int, list[int]] = {}  # second -> [total, errors, latency sum]
    histograms: dict[int, list[int]] = {}
    for at, success, latency_ms in outcomes:
        key = second_of(at)
        count = counts.get(key)
        if count is None:
            count = counts[key] = [0, 0, 0]
            histograms[key] = [0] * BUCKETS
        count[0] += 1
        count[1] += not success
        count[2] += latency_ms
        histograms[key][bisect_left(LATENCY_BOUNDS_MS, latency_ms)] += 1
    return {
        key: Tally(total, errors, latency_sum, tuple(histograms[key]))
        for key, (total, errors, latency_sum) in counts.items()
    }


def tally_sorted(successes: Sequence[int], errors: Sequence[int]) -> Tally:
    """The tally of outcomes given as the latencies of the successes and of the errors,
    each sorted ascending: a histogram bucket's count is the difference of two bisects."""
    histogram = []
    below = 0
    for bound in LATENCY_BOUNDS_MS:
        upto = bisect_right(successes, bound) + bisect_right(errors, bound)
        histogram.append(upto - below)
        below = upto
    total = len(successes) + len(errors)
    histogram.append(total - below)
    return Tally(total, len(errors), sum(successes) + sum(errors), tuple(histogram))


@dataclass(frozen=True, slots=True)
class Interval:
    """One interval of a series: its first second and its tally."""

    start: int
    tally: Tally


@dataclass(frozen=True, slots=True)
class SeriesRange:
    """A checked range [start, end) of epoch seconds, cut in steps (the last may be short)."""

    start: int
    end: int
    step: int

    @classmethod
    def of(cls, start: datetime, end: datetime, step_seconds: int) -> SeriesRange:
        first, last = second_of(start), second_of(end)
        if last <= first:
            raise InvalidWindowError("end", "must be at least one second after start")
        if last - first > MAX_RANGE_SECONDS:
            raise InvalidWindowError("end", f"a range is at most {MAX_RANGE_SECONDS} seconds")
        if step_seconds < 0:
            raise InvalidWindowError("step_seconds", "must not be negative")
        step = step_seconds or last - first
        if (last - first + step - 1) // step > MAX_INTERVALS:
            raise InvalidWindowError(
                "step_seconds", f"would make more than {MAX_INTERVALS} intervals"
            )
        return cls(first, last, step)

    def series(self, seconds: Mapping[int, Tally]) -> tuple[Tally, list[Interval]]:
        """The whole range's tally and one per step, empty steps included."""
        starts = range(self.start, self.end, self.step)
        intervals = {start: Tally() for start in starts}
        total = Tally()
        for second, counted in seconds.items():
            if self.start <= second < self.end:
                start = self.start + (second - self.start) // self.step * self.step
                intervals[start] += counted
                total += counted
        return total, [Interval(start, intervals[start]) for start in starts]
