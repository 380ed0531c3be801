"""A report's batch fed to a closed breaker in plain ints does what feeding it call by call does."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from portico_slo.domain.breakers import Breaker, judge
from portico_slo.domain.breakers_config import BreakerConfig, BreakerState, WindowType
from portico_slo.domain.breakers_windows import CountWindow, Limits, classify

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
CONFIG = BreakerConfig(
    sliding_window_size=20,
    minimum_number_of_calls=10,
    failure_rate_threshold=50.0,
    slow_call_rate_threshold=60.0,
    slow_call_duration_threshold=timedelta(milliseconds=300),
)


def batch(seed: int, count: int, failing: float) -> list[tuple[bool, int, int]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    return [(rng.random() > failing, rng.randrange(0, 600), 0) for _ in range(count)]


def call_by_call(window: CountWindow, outcomes: list[tuple[bool, int, int]]) -> int | None:
    """The reference: classify, record and judge each call; the index where it opens."""
    for index, (success, latency_ms, second) in enumerate(outcomes):
        call = classify(success, latency_ms, CONFIG.slow_call_duration_ms)
        snapshot = window.record_second(call, second, second)
        if judge(snapshot, CONFIG.effective_minimum_calls, CONFIG).exceeded:
            return index
    return None


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("failing", [0.05, 0.3, 0.45, 0.7])
def test_record_until_stops_where_judging_each_call_would_open(seed: int, failing: float) -> None:
    """The window stops right after the call that reaches a threshold, totals and calls alike."""
    outcomes = batch(seed, 300, failing)
    reference, fast = (
        CountWindow(CONFIG.sliding_window_size),
        CountWindow(CONFIG.sliding_window_size),
    )
    opened_at = call_by_call(reference, outcomes)
    pending = iter(outcomes)
    limits = Limits(
        CONFIG.effective_minimum_calls,
        CONFIG.failure_rate_threshold,
        CONFIG.slow_call_rate_threshold,
    )
    reached = fast.record_until(pending, CONFIG.slow_call_duration_ms, limits)
    assert reached == (opened_at is not None)
    assert len(list(pending)) == (0 if opened_at is None else len(outcomes) - opened_at - 1)
    if opened_at is not None:
        reference = CountWindow(CONFIG.sliding_window_size)
        call_by_call(reference, outcomes[: opened_at + 1])
    assert fast.total == reference.total
    assert list(fast.calls) == list(reference.calls)


def test_a_batch_that_opens_the_breaker_counts_the_rest_as_not_permitted() -> None:
    """Past the call that opens it, a batch's calls are not permitted, as resilience4j counts."""
    breaker = Breaker.create(
        breaker_id="b-1",
        tenant_id="acme",
        plugin="@acme/p",
        version="1.0.0",
        config=CONFIG,
        now=NOW,
    )
    outcomes = [(True, 5, 0)] * 5 + [(False, 5, 0)] * 5 + [(True, 5, 0)] * 7
    events = breaker.record_seconds(outcomes, NOW)
    assert breaker.state is BreakerState.OPEN
    assert [type(e).__name__ for e in events] == ["BreakerTransitioned"]
    # The tenth call (5 of 10 failed: 50%) opens it; the seven after it were not permitted.
    assert breaker.not_permitted_calls == 7


def test_a_time_window_breaker_is_fed_call_by_call_with_the_seconds() -> None:
    """A time-based window files each call under the second given with it."""
    config = BreakerConfig(
        sliding_window_type=WindowType.TIME_BASED, sliding_window_size=10, minimum_number_of_calls=5
    )
    breaker = Breaker.create(
        breaker_id="b-2",
        tenant_id="acme",
        plugin="@acme/p",
        version="1.0.0",
        config=config,
        now=NOW,
    )
    second = int((NOW - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(seconds=1))
    breaker.record_seconds([(True, 5, second - 20), (True, 5, second - 1), (False, 5, second)], NOW)
    assert breaker.metrics(NOW).window.calls == 2
