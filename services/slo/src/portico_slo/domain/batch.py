"""A report's outcomes in columns, grouped by the epoch second they happened in.

A report carries up to 10,000 outcomes and is counted while its SLOs and
breaker are locked, so the work done per outcome is kept to one pass over
plain ints (epoch microseconds), made before the lock (`OutcomeBatch.group`):
each outcome's second, and per second the latencies of its successes and of
its errors, sorted. Under the lock (`Grouped.accept`), lateness is judged per
second (only a second that straddles a limit is looked into outcome by
outcome, as `judge_time` would), an SLO's good count per second is a bisect at
its latency threshold (`Indicator.good_among`) and a version's latency
histogram a bisect per bound (`tally_sorted`): the same numbers as counting
the outcomes one by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat
from operator import itemgetter

from portico_slo.domain._time import require_aware
from portico_slo.domain.burn_rate import Counts
from portico_slo.domain.indicator import Indicator
from portico_slo.domain.ingest import OutcomeResult
from portico_slo.domain.version_outcomes import Tally, tally_sorted
from portico_slo.errors import InvalidOutcomeError

MICROS = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros_of(at: datetime) -> int:
    """`at` in epoch microseconds (exact: a datetime holds whole microseconds)."""
    require_aware(at, "outcome time")
    return (at - _EPOCH) // _MICROSECOND


@dataclass(slots=True)
class SecondGroup:
    """The outcomes of one second: latencies of its successes and of its errors."""

    successes: list[int] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)

    def merged(self, other: SecondGroup) -> SecondGroup:
        return SecondGroup(
            sorted(self.successes + other.successes), sorted(self.errors + other.errors)
        )

    @property
    def total(self) -> int:
        return len(self.successes) + len(self.errors)


@dataclass(frozen=True, slots=True)
class OutcomeBatch:
    """A report's outcomes as columns, one entry per outcome in the order reported."""

    successes: Sequence[bool]
    latencies_ms: Sequence[int]
    # When each happened, in epoch microseconds; None: when it is reported.
    times_us: Sequence[int | None]

    def __post_init__(self) -> None:
        if not len(self.successes) == len(self.latencies_ms) == len(self.times_us):
            raise InvalidOutcomeError("a batch's columns must have one entry per outcome")

    @classmethod
    def of(cls, outcomes: Iterable[tuple[bool, int, datetime | None]]) -> OutcomeBatch:
        """A batch of (success, latency in ms, time or None) outcomes."""
        successes: list[bool] = []
        latencies: list[int] = []
        times: list[int | None] = []
        for success, latency_ms, at in outcomes:
            successes.append(success)
            latencies.append(latency_ms)
            times.append(None if at is None else micros_of(at))
        return cls(successes, latencies, times)

    def __len__(self) -> int:
        return len(self.successes)

    def group(self, accepted: Sequence[bool] | None = None) -> Grouped:
        """The (accepted) outcomes per second; the ones without a time kept apart."""
        seconds: dict[int, SecondGroup] = {}
        unstamped = SecondGroup()
        keep = accepted if accepted is not None else repeat(True)
        for at, success, latency_ms, kept in zip(
            self.times_us, self.successes, self.latencies_ms, keep, strict=False
        ):
            if not kept:
                continue
            if at is None:
                group = unstamped
            else:
                second = at // MICROS
                group = seconds.get(second) or seconds.setdefault(second, SecondGroup())
            (group.successes if success else group.errors).append(latency_ms)
        for group in (*seconds.values(), unstamped):
            group.successes.sort()
            group.errors.sort()
        return Grouped(self, seconds, unstamped)


@dataclass(frozen=True, slots=True)
class Grouped:
    """A batch grouped by second, ready to be judged against `now`."""

    batch: OutcomeBatch
    seconds: dict[int, SecondGroup]
    unstamped: SecondGroup

    def accept(self, now: datetime, max_lateness_seconds: int, max_skew_seconds: int) -> Accepted:
        """What `judge_time` says of each outcome, and the accepted ones per second.

        Outcomes without a time happened `now`, which is always acceptable.
        """
        now_us = micros_of(now)
        low = now_us - max_lateness_seconds * MICROS
        high = now_us + max_skew_seconds * MICROS
        batch = self.batch
        if all(low <= s * MICROS and s * MICROS + MICROS - 1 <= high for s in self.seconds):
            results = (OutcomeResult.ACCEPTED,) * len(batch)
            grouped = self
        else:
            results = tuple(
                OutcomeResult.ACCEPTED
                if at is None or low <= at <= high
                else OutcomeResult.TOO_LATE
                if at < low
                else OutcomeResult.TOO_EARLY
                for at in batch.times_us
            )
            grouped = batch.group([r is OutcomeResult.ACCEPTED for r in results])
        seconds = dict(grouped.seconds)
        if grouped.unstamped.total:
            current = now_us // MICROS
            found = seconds.get(current)
            seconds[current] = found.merged(grouped.unstamped) if found else grouped.unstamped
        return Accepted(batch, results, seconds, now_us)


@dataclass(frozen=True, slots=True)
class Accepted:
    """A judged batch: each outcome's result, and the accepted ones per second."""

    batch: OutcomeBatch
    results: tuple[OutcomeResult, ...]
    seconds: dict[int, SecondGroup]
    now_us: int

    @property
    def refused(self) -> int:
        return len(self.results) - self.results.count(OutcomeResult.ACCEPTED)

    @property
    def count(self) -> int:
        return len(self.results) - self.refused

    def counts(self, indicator: Indicator, bucket_seconds: int) -> dict[int, Counts]:
        """Good and bad per bucket of `bucket_seconds`, as `indicator` judges them."""
        counts: dict[int, list[int]] = {}
        for second, group in self.seconds.items():
            good = indicator.good_among(group.successes, group.errors)
            into = counts.setdefault(second // bucket_seconds * bucket_seconds, [0, 0])
            into[0] += good
            into[1] += group.total - good
        return {key: Counts(good, bad) for key, (good, bad) in counts.items()}

    def tallies(self) -> dict[int, Tally]:
        """One tally per second (see `portico_slo.domain.version_outcomes`)."""
        return {s: tally_sorted(g.successes, g.errors) for s, g in self.seconds.items()}

    def in_time_order(self) -> Iterator[tuple[bool, int, int]]:
        """The accepted (success, latency in ms, epoch second), oldest first, ties as reported."""
        batch, now_us = self.batch, self.now_us
        times = [now_us if at is None else at for at in batch.times_us]
        order = sorted(range(len(times)), key=times.__getitem__)
        if self.refused:
            order = [i for i in order if self.results[i] is OutcomeResult.ACCEPTED]
        if not order:
            return iter(())
        # itemgetter of one index gives the item, not a tuple of one.
        pick = itemgetter(*order) if len(order) > 1 else lambda column: (column[order[0]],)
        seconds = [at // MICROS for at in pick(times)]
        return zip(pick(batch.successes), pick(batch.latencies_ms), seconds, strict=True)
