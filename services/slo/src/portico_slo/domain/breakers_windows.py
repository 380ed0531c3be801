"""The sliding windows a circuit breaker judges calls over, as resilience4j keeps them.

`CountWindow` is resilience4j's FixedSizeSlidingWindowMetrics: the last N
calls, the oldest dropped when a new one comes. `TimeWindow` is its
SlidingTimeWindowMetrics: one partial aggregation per epoch second, the
window being the current second and the N-1 before it, so a call leaves the
window N seconds after the second it happened in. Both are plain data the
adapters store as they are (`to_doc` / `window_of`), so a breaker read back
after a restart, or by another replica, judges exactly the same calls.

Unlike resilience4j, which stamps a call with the clock when it is recorded,
a TimeWindow files a reported call under the second it happened in (never
later than now): reports arrive in batches after the fact, and a batch
flushed late would otherwise look like a burst.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Call(StrEnum):
    """resilience4j's Metrics.Outcome; the value is the one-letter code stored per call."""

    SUCCESS = "s"
    ERROR = "e"
    SLOW_SUCCESS = "S"
    SLOW_ERROR = "E"

    @property
    def failed(self) -> bool:
        return self in (Call.ERROR, Call.SLOW_ERROR)

    @property
    def slow(self) -> bool:
        return self in (Call.SLOW_SUCCESS, Call.SLOW_ERROR)


def classify(success: bool, latency_ms: int, slow_call_duration_ms: int) -> Call:
    """A call is slow when it took longer than the threshold (resilience4j: strictly longer)."""
    if latency_ms > slow_call_duration_ms:
        return Call.SLOW_SUCCESS if success else Call.SLOW_ERROR
    return Call.SUCCESS if success else Call.ERROR


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Counts over a window; rates are percentages (0 without calls), as in resilience4j."""

    calls: int = 0
    failed: int = 0
    slow: int = 0
    slow_failed: int = 0

    @classmethod
    def of(cls, call: Call) -> Snapshot:
        """The counts of one call (shared: every report records thousands)."""
        return _ONE[call]

    def __add__(self, other: Snapshot) -> Snapshot:
        return Snapshot(
            self.calls + other.calls,
            self.failed + other.failed,
            self.slow + other.slow,
            self.slow_failed + other.slow_failed,
        )

    def __sub__(self, other: Snapshot) -> Snapshot:
        return Snapshot(
            self.calls - other.calls,
            self.failed - other.failed,
            self.slow - other.slow,
            self.slow_failed - other.slow_failed,
        )

    @property
    def successful(self) -> int:
        return self.calls - self.failed

    @property
    def slow_successful(self) -> int:
        return self.slow - self.slow_failed

    @property
    def failure_rate(self) -> float:
        return self.failed * 100.0 / self.calls if self.calls else 0.0

    @property
    def slow_call_rate(self) -> float:
        return self.slow * 100.0 / self.calls if self.calls else 0.0

    def as_row(self) -> list[int]:
        return [self.calls, self.failed, self.slow, self.slow_failed]


class Limits(NamedTuple):
    """When a window's calls open a breaker: the minimum calls, then either rate (%)."""

    minimum_calls: int
    failure_rate_threshold: float
    slow_call_rate_threshold: float


_ONE = {
    Call.SUCCESS: Snapshot(1, 0, 0, 0),
    Call.ERROR: Snapshot(1, 1, 0, 0),
    Call.SLOW_SUCCESS: Snapshot(1, 0, 1, 0),
    Call.SLOW_ERROR: Snapshot(1, 1, 1, 1),
}


@dataclass(slots=True)
class CountWindow:
    """The last `size` calls, oldest first, with their running totals."""

    size: int
    calls: deque[Call] = field(default_factory=deque)
    total: Snapshot = field(default_factory=Snapshot)

    def record(self, call: Call, at: datetime, now: datetime) -> Snapshot:
        return self.record_second(call, epoch_second(at), epoch_second(now))

    def record_second(self, call: Call, second: int, current: int) -> Snapshot:
        """`record`, with the times as epoch seconds."""
        del second, current  # a count window is ordered by arrival, not by time
        calls = self.calls
        if len(calls) == self.size:
            dropped = calls.popleft()
            if dropped is not call:  # the same kind in and out leaves the totals as they are
                self.total = self.total - _ONE[dropped] + _ONE[call]
        else:
            self.total += _ONE[call]
        calls.append(call)
        return self.total

    def record_until(
        self,
        outcomes: Iterator[tuple[bool, int, int]],
        slow_call_duration_ms: int,
        limits: Limits,
    ) -> bool:
        """`record` of each (success, latency in ms, second), stopping right after the call
        that brings the window to a threshold (True; the rest of `outcomes` is left
        unread), or once `outcomes` run out (False).

        The same as classifying, recording and judging call by call, in plain
        ints: a report feeds thousands of calls to a closed breaker.
        """
        calls, size, one = self.calls, self.size, _ONE
        minimum, failure_rate, slow_rate = limits
        n, failed, slow, slow_failed = self.total.as_row()
        reached = False
        for success, latency_ms, _second in outcomes:
            if latency_ms > slow_call_duration_ms:
                call = Call.SLOW_SUCCESS if success else Call.SLOW_ERROR
            else:
                call = Call.SUCCESS if success else Call.ERROR
            if len(calls) == size:
                dropped = calls.popleft()
                if dropped is not call:
                    gone, came = one[dropped], one[call]
                    failed += came.failed - gone.failed
                    slow += came.slow - gone.slow
                    slow_failed += came.slow_failed - gone.slow_failed
            else:
                came = one[call]
                n += 1
                failed += came.failed
                slow += came.slow
                slow_failed += came.slow_failed
            calls.append(call)
            if n >= minimum and (
                failed * 100.0 >= failure_rate * n or slow * 100.0 >= slow_rate * n
            ):
                reached = True
                break
        self.total = Snapshot(n, failed, slow, slow_failed)
        return reached

    def snapshot(self, now: datetime) -> Snapshot:
        del now
        return self.total

    def to_doc(self) -> dict[str, Any]:
        return {"type": "count", "size": self.size, "calls": "".join(self.calls)}


def epoch_second(at: datetime) -> int:
    # Integer timedelta division: exact, unlike float timestamps near a boundary.
    return (at - _EPOCH) // timedelta(seconds=1)


@dataclass(slots=True)
class TimeWindow:
    """Calls of the last `size` seconds, one partial aggregation per epoch second."""

    size: int
    seconds: dict[int, Snapshot] = field(default_factory=dict)

    def record(self, call: Call, at: datetime, now: datetime) -> Snapshot:
        return self.record_second(call, epoch_second(at), epoch_second(now))

    def record_second(self, call: Call, second: int, current: int) -> Snapshot:
        """`record`, with the times as epoch seconds."""
        second = min(second, current)
        if second > current - self.size:
            self.seconds[second] = self.seconds.get(second, Snapshot()) + Snapshot.of(call)
        self._slide(current)
        return self._since(current - self.size)

    def snapshot(self, now: datetime) -> Snapshot:
        return self._since(epoch_second(now) - self.size)

    def _since(self, low: int) -> Snapshot:
        total = Snapshot()
        for second, counts in self.seconds.items():
            if second > low:
                total += counts
        return total

    def _slide(self, current: int) -> None:
        low = current - self.size
        for second in [s for s in self.seconds if s <= low]:
            del self.seconds[second]

    def to_doc(self) -> dict[str, Any]:
        return {
            "type": "time",
            "size": self.size,
            "seconds": [[s, *c.as_row()] for s, c in sorted(self.seconds.items())],
        }


Window = CountWindow | TimeWindow


def window_of(doc: dict[str, Any] | None) -> Window | None:
    """A window from what `to_doc` stored (None: the state keeps no window)."""
    if doc is None:
        return None
    if doc["type"] == "count":
        calls = deque(Call(code) for code in doc["calls"])
        total = Snapshot()
        for call in calls:
            total += Snapshot.of(call)
        return CountWindow(doc["size"], calls, total)
    return TimeWindow(
        doc["size"], {row[0]: Snapshot(row[1], row[2], row[3], row[4]) for row in doc["seconds"]}
    )
