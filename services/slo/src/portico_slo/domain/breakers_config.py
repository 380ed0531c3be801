"""A circuit breaker's configuration, with resilience4j's defaults and checks.

Field for field this is resilience4j's CircuitBreakerConfig (the parts that
mean something for outcomes reported after the fact): DEFAULT_* below are its
constants, `check` refuses what its builder refuses. Two limits are ours: a
window is stored with its breaker and rewritten on every report, so its size
is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from portico_slo.errors import InvalidBreakerError


class WindowType(StrEnum):
    COUNT_BASED = "COUNT_BASED"
    TIME_BASED = "TIME_BASED"


class BreakerState(StrEnum):
    """resilience4j's CircuitBreaker.State; the value is what the database stores."""

    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"
    DISABLED = "DISABLED"
    FORCED_OPEN = "FORCED_OPEN"
    METRICS_ONLY = "METRICS_ONLY"


DEFAULT_FAILURE_RATE_THRESHOLD = 50.0  # percent
DEFAULT_SLOW_CALL_RATE_THRESHOLD = 100.0  # percent
DEFAULT_WAIT_DURATION_IN_OPEN_STATE = timedelta(seconds=60)
DEFAULT_PERMITTED_CALLS_IN_HALF_OPEN_STATE = 10
DEFAULT_MINIMUM_NUMBER_OF_CALLS = 100
DEFAULT_SLIDING_WINDOW_SIZE = 100
DEFAULT_SLOW_CALL_DURATION_THRESHOLD = timedelta(seconds=60)
DEFAULT_SLIDING_WINDOW_TYPE = WindowType.COUNT_BASED
# 0: a half-open breaker waits for its trial calls however long they take.
DEFAULT_MAX_WAIT_DURATION_IN_HALF_OPEN_STATE = timedelta(0)
DEFAULT_TRANSITION_TO_STATE_AFTER_WAIT_DURATION = BreakerState.OPEN

# Ours: the window is one row's value, rewritten by every report.
MAX_COUNT_WINDOW = 10_000
MAX_TIME_WINDOW_SECONDS = 3_600
MAX_PERMITTED_CALLS_IN_HALF_OPEN_STATE = 10_000
MAX_WAIT = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """How a breaker judges calls and how long it stays open."""

    sliding_window_type: WindowType = DEFAULT_SLIDING_WINDOW_TYPE
    # Calls (count-based) or seconds (time-based).
    sliding_window_size: int = DEFAULT_SLIDING_WINDOW_SIZE
    minimum_number_of_calls: int = DEFAULT_MINIMUM_NUMBER_OF_CALLS
    failure_rate_threshold: float = DEFAULT_FAILURE_RATE_THRESHOLD
    slow_call_rate_threshold: float = DEFAULT_SLOW_CALL_RATE_THRESHOLD
    slow_call_duration_threshold: timedelta = DEFAULT_SLOW_CALL_DURATION_THRESHOLD
    wait_duration_in_open_state: timedelta = DEFAULT_WAIT_DURATION_IN_OPEN_STATE
    # resilience4j's IntervalFunction.ofExponentialBackoff: the n-th opening in a
    # row waits wait * multiplier^(n-1), at most max_wait (zero: no cap); 1 keeps it constant.
    wait_duration_multiplier: float = 1.0
    max_wait_duration_in_open_state: timedelta = timedelta(0)
    permitted_number_of_calls_in_half_open_state: int = DEFAULT_PERMITTED_CALLS_IN_HALF_OPEN_STATE
    automatic_transition_from_open_to_half_open_enabled: bool = False
    max_wait_duration_in_half_open_state: timedelta = DEFAULT_MAX_WAIT_DURATION_IN_HALF_OPEN_STATE
    transition_to_state_after_wait_duration: BreakerState = (
        DEFAULT_TRANSITION_TO_STATE_AFTER_WAIT_DURATION
    )

    def __post_init__(self) -> None:
        _range("failure_rate_threshold", self.failure_rate_threshold)
        _range("slow_call_rate_threshold", self.slow_call_rate_threshold)
        if self.sliding_window_size < 1:
            _fail("sliding_window_size", "must be greater than 0")
        limit = (
            MAX_COUNT_WINDOW
            if self.sliding_window_type is WindowType.COUNT_BASED
            else MAX_TIME_WINDOW_SECONDS
        )
        if self.sliding_window_size > limit:
            _fail("sliding_window_size", f"{self.sliding_window_size} is above {limit}")
        if self.minimum_number_of_calls < 1:
            _fail("minimum_number_of_calls", "must be greater than 0")
        permitted = self.permitted_number_of_calls_in_half_open_state
        if not 1 <= permitted <= MAX_PERMITTED_CALLS_IN_HALF_OPEN_STATE:
            _fail(
                "permitted_number_of_calls_in_half_open_state",
                f"{permitted} is not in 1..{MAX_PERMITTED_CALLS_IN_HALF_OPEN_STATE}",
            )
        if self.slow_call_duration_threshold < timedelta(milliseconds=1):
            _fail("slow_call_duration_threshold", "must be at least 1 ms")
        _wait("wait_duration_in_open_state", self.wait_duration_in_open_state, minimum_ms=1)
        if not 1.0 <= self.wait_duration_multiplier <= 100.0:
            _fail("wait_duration_multiplier", f"{self.wait_duration_multiplier} is not in 1..100")
        _wait("max_wait_duration_in_open_state", self.max_wait_duration_in_open_state)
        _wait("max_wait_duration_in_half_open_state", self.max_wait_duration_in_half_open_state)
        if self.transition_to_state_after_wait_duration not in (
            BreakerState.OPEN,
            BreakerState.CLOSED,
        ):
            _fail("transition_to_state_after_wait_duration", "must be either OPEN or CLOSED")

    @property
    def effective_minimum_calls(self) -> int:
        """A count window can never hold more calls than its size, so the minimum is capped."""
        if self.sliding_window_type is WindowType.COUNT_BASED:
            return min(self.minimum_number_of_calls, self.sliding_window_size)
        return self.minimum_number_of_calls

    @property
    def half_open_minimum_calls(self) -> int:
        """Half-open judges a count window of the permitted calls (resilience4j's forHalfOpen)."""
        return min(self.minimum_number_of_calls, self.permitted_number_of_calls_in_half_open_state)

    @property
    def slow_call_duration_ms(self) -> int:
        return self.slow_call_duration_threshold // timedelta(milliseconds=1)

    def wait_in_open(self, attempts: int) -> timedelta:
        """How long the `attempts`-th opening in a row stays open."""
        cap = self.max_wait_duration_in_open_state or MAX_WAIT
        try:
            factor = self.wait_duration_multiplier ** max(attempts - 1, 0)
        except OverflowError:  # many openings in a row: the cap holds long before
            return cap
        seconds = self.wait_duration_in_open_state.total_seconds() * factor
        return cap if seconds >= cap.total_seconds() else timedelta(seconds=seconds)


def _fail(field: str, problem: str) -> None:
    raise InvalidBreakerError(field, problem)


def _range(field: str, percent: float) -> None:
    if not 0.0 < percent <= 100.0:
        _fail(field, f"{percent:g} must be between 0 (exclusive) and 100 (inclusive)")


def _wait(field: str, value: timedelta, *, minimum_ms: int = 0) -> None:
    if value < timedelta(milliseconds=minimum_ms) or value > MAX_WAIT:
        _fail(field, f"{value} is not between {minimum_ms} ms and {MAX_WAIT}")
