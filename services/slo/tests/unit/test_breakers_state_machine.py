"""The breaker state machine, table-driven after resilience4j's CircuitBreakerStateMachineTest.

Each scenario is named after the resilience4j test it mirrors and runs on
that test's configuration (a 20 s time window, 5 calls minimum, 50% failure
and slow-call thresholds, calls slower than 4 s are slow, 4 trial calls,
5 s in open, at most 1 s in half-open) with a ManualClock for its MockClock.
Metrics are checked as its assertCircuitBreakerMetricsEqualTo does:
(failure rate, successful, buffered, failed, not permitted).

Where a call is "acquired" there, an outcome is reported here: a trial call
that moves an open breaker to half-open is therefore also recorded, so the
half-open window holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from portico_common.clock import ManualClock
from portico_slo.domain.breakers import TRANSITIONS, Breaker
from portico_slo.domain.breakers_config import BreakerConfig, BreakerState, WindowType
from portico_slo.domain.breakers_events import (
    BreakerEvent,
    BreakerThresholdsExceeded,
    BreakerTransitioned,
    Reason,
)
from portico_slo.errors import IllegalBreakerTransitionError

T0 = datetime(2019, 1, 1, 12, 0, tzinfo=UTC)
CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
DISABLED, FORCED_OPEN, METRICS_ONLY = (
    BreakerState.DISABLED,
    BreakerState.FORCED_OPEN,
    BreakerState.METRICS_ONLY,
)

# CircuitBreakerStateMachineTest.setUp
R4J = BreakerConfig(
    failure_rate_threshold=50,
    permitted_number_of_calls_in_half_open_state=4,
    slow_call_duration_threshold=timedelta(seconds=4),
    slow_call_rate_threshold=50,
    max_wait_duration_in_half_open_state=timedelta(seconds=1),
    sliding_window_type=WindowType.TIME_BASED,
    sliding_window_size=20,
    minimum_number_of_calls=5,
    wait_duration_in_open_state=timedelta(seconds=5),
)
RESET = (-1.0, 0, 0, 0, 0)
Metrics = tuple[float, int, int, int, int]


@dataclass
class Probe:
    """A breaker and the clock it is driven by; every event it emitted is kept."""

    breaker: Breaker
    clock: ManualClock
    events: list[BreakerEvent]

    @classmethod
    def of(cls, config: BreakerConfig = R4J) -> Probe:
        clock = ManualClock(T0)
        breaker = Breaker.create(
            breaker_id="b-1",
            tenant_id="acme",
            plugin="@acme/p",
            version="1.0.0",
            config=config,
            now=clock.now(),
        )
        return cls(breaker, clock, [])

    def do(self, step: str) -> None:
        """S/F: a fast success/failure; SS/SF: a 5 s one; +N: N seconds pass; else an operation."""
        now = self.clock.now()
        calls = {"S": (True, 0), "F": (False, 0), "SS": (True, 5000), "SF": (False, 5000)}
        calls |= {"S100": (True, 100), "F100": (False, 100), "S1s": (True, 1000)}
        if step in calls:
            success, latency = calls[step]
            self.events += self.breaker.record(success, latency, now, now)
        elif step.startswith("+"):
            self.clock.advance(float(step[1:]))
        elif step == "tick":
            self.events += self.breaker.tick(now)
        elif step == "reset":
            self.events += self.breaker.reset(now)
        elif step.startswith("open_for="):
            hours = float(step.split("=")[1])
            self.events += self.breaker.transition(OPEN, now, open_for=timedelta(hours=hours))
        else:
            self.events += self.breaker.transition(BreakerState(step.upper()), now)

    def metrics(self) -> Metrics:
        m = self.breaker.metrics(self.clock.now())
        return (
            m.failure_rate,
            m.window.successful,
            m.window.calls,
            m.window.failed,
            m.not_permitted_calls,
        )


# (step, state after it, metrics after it or None)
Step = tuple[str, BreakerState, Metrics | None]

SCENARIOS: dict[str, tuple[BreakerConfig, Sequence[Step]]] = {
    "shouldOpenAfterFailureRateThresholdExceeded": (
        R4J,
        [
            ("F", CLOSED, (-1.0, 0, 1, 1, 0)),
            ("F", CLOSED, (-1.0, 0, 2, 2, 0)),
            ("F", CLOSED, (-1.0, 0, 3, 3, 0)),
            ("S", CLOSED, (-1.0, 1, 4, 3, 0)),
            ("S", OPEN, (60.0, 2, 5, 3, 0)),
            # tryAcquirePermission while open: a call that was not permitted.
            ("F", OPEN, (60.0, 2, 5, 3, 1)),
        ],
    ),
    "shouldOpenAfterFailureRateThresholdExceeded2": (
        R4J,
        [
            ("S", CLOSED, None),
            ("+1", CLOSED, None),
            ("S", CLOSED, None),
            ("+1", CLOSED, None),
            ("S", CLOSED, None),
            ("+1", CLOSED, None),
            ("F", CLOSED, None),
            ("+1", CLOSED, None),
            ("F", CLOSED, (40.0, 3, 5, 2, 0)),
            ("+1", CLOSED, None),
            ("F", OPEN, (50.0, 3, 6, 3, 0)),
        ],
    ),
    "shouldOpenAfterSlowCallRateThresholdExceeded": (
        R4J,
        [
            ("SF", CLOSED, None),
            ("SS", CLOSED, None),
            ("F100", CLOSED, None),
            ("S100", CLOSED, None),
            ("SS", OPEN, (40.0, 3, 5, 2, 0)),
        ],
    ),
    "shouldTransitionToHalfOpenAfterWaitDuration": (
        R4J,
        [
            ("open", OPEN, RESET),
            ("S", OPEN, None),
            ("+3", OPEN, None),
            ("S", OPEN, (-1.0, 0, 0, 0, 2)),
            ("+3", OPEN, None),
            ("S", HALF_OPEN, (-1.0, 1, 1, 0, 0)),
        ],
    ),
    "shouldTransitionToHalfOpenAfterPassedWaitDuration": (
        R4J,
        [
            ("open_for=2", OPEN, RESET),
            ("S", OPEN, None),
            ("+3600", OPEN, None),
            ("S", OPEN, (-1.0, 0, 0, 0, 2)),
            ("+3600", OPEN, None),
            # Exactly at the end of the wait is not yet after it.
            ("S", OPEN, (-1.0, 0, 0, 0, 3)),
            ("+1", OPEN, None),
            ("S", HALF_OPEN, (-1.0, 1, 1, 0, 0)),
        ],
    ),
    "shouldTransitionToHalfOpenAfterWaitInterval": (
        BreakerConfig(
            failure_rate_threshold=50,
            sliding_window_size=5,
            permitted_number_of_calls_in_half_open_state=4,
            # IntervalFunction.ofExponentialBackoff(5000L): 5 s, then 7.5 s, ...
            wait_duration_in_open_state=timedelta(seconds=5),
            wait_duration_multiplier=1.5,
        ),
        [
            ("open", OPEN, RESET),
            ("S", OPEN, None),
            ("+3", OPEN, None),
            ("S", OPEN, (-1.0, 0, 0, 0, 2)),
            ("+3", OPEN, None),
            ("S", HALF_OPEN, (-1.0, 1, 1, 0, 0)),
            ("open", OPEN, None),
            ("+6", OPEN, None),
            ("S", OPEN, None),
            ("+5", OPEN, None),
            ("S", HALF_OPEN, (-1.0, 1, 1, 0, 0)),
        ],
    ),
    "shouldTransitionBackToOpenStateWhenFailureRateIsAboveThreshold": (
        R4J,
        [
            ("open", OPEN, None),
            ("half_open", HALF_OPEN, RESET),
            ("F", HALF_OPEN, None),
            ("F", HALF_OPEN, None),
            ("S", HALF_OPEN, None),
            ("F", OPEN, (75.0, 1, 4, 3, 0)),
        ],
    ),
    "shouldTransitionBackToOpenStateWhenSlowCallRateIsAboveThreshold": (
        R4J,
        [
            ("open", OPEN, None),
            ("half_open", HALF_OPEN, None),
            ("SS", HALF_OPEN, None),
            ("SS", HALF_OPEN, None),
            ("SS", HALF_OPEN, None),
            ("S1s", OPEN, (0.0, 4, 4, 0, 0)),
        ],
    ),
    "shouldTransitionBackToClosedStateWhenFailureIsBelowThreshold": (
        R4J,
        [
            ("open", OPEN, None),
            ("half_open", HALF_OPEN, RESET),
            ("F", HALF_OPEN, None),
            ("S", HALF_OPEN, None),
            ("S", HALF_OPEN, None),
            ("S", CLOSED, RESET),
            ("S", CLOSED, (-1.0, 1, 1, 0, 0)),
        ],
    ),
    "shouldResetMetrics": (
        R4J,
        [("S", CLOSED, None), ("F", CLOSED, (-1.0, 1, 2, 1, 0)), ("reset", CLOSED, RESET)],
    ),
    "shouldResetToClosedState": (R4J, [("open", OPEN, None), ("reset", CLOSED, RESET)]),
    "shouldDisableCircuitBreaker": (
        R4J,
        [
            ("disabled", DISABLED, RESET),
            ("S", DISABLED, None),
            ("F", DISABLED, None),
            ("F", DISABLED, None),
            ("F", DISABLED, None),
            ("F", DISABLED, RESET),
        ],
    ),
    "shouldForceOpenCircuitBreaker": (
        R4J,
        [
            ("forced_open", FORCED_OPEN, None),
            ("S", FORCED_OPEN, None),
            ("+6", FORCED_OPEN, None),
            ("tick", FORCED_OPEN, None),
            ("S", FORCED_OPEN, (-1.0, 0, 0, 0, 2)),
        ],
    ),
    "shouldResetMetricsAfterMetricsOnlyStateTransition": (
        R4J,
        [
            ("S", CLOSED, None),
            ("S", CLOSED, (-1.0, 2, 2, 0, 0)),
            ("metrics_only", METRICS_ONLY, RESET),
        ],
    ),
    "shouldRecordMetricsInMetricsOnlyState": (
        R4J,
        [
            ("metrics_only", METRICS_ONLY, RESET),
            ("F", METRICS_ONLY, (-1.0, 0, 1, 1, 0)),
            ("F", METRICS_ONLY, (-1.0, 0, 2, 2, 0)),
            ("F", METRICS_ONLY, (-1.0, 0, 3, 3, 0)),
            ("S", METRICS_ONLY, (-1.0, 1, 4, 3, 0)),
            ("S", METRICS_ONLY, (60.0, 2, 5, 3, 0)),
            ("F", METRICS_ONLY, None),
        ],
    ),
    "circuitBreakerTransitionsToOpenAfterWaitDurationInHalfOpenState": (
        R4J,
        [
            ("open", OPEN, None),
            ("half_open", HALF_OPEN, None),
            ("+2", HALF_OPEN, None),
            ("tick", OPEN, None),
        ],
    ),
    "circuitBreakerTransitionsToClosedAfterWaitDurationInHalfOpenState": (
        BreakerConfig(
            max_wait_duration_in_half_open_state=timedelta(seconds=1),
            transition_to_state_after_wait_duration=CLOSED,
        ),
        [
            ("open", OPEN, None),
            ("half_open", HALF_OPEN, None),
            ("+2", HALF_OPEN, None),
            ("tick", CLOSED, RESET),
        ],
    ),
    # CircuitBreakerAutoTransitionStateMachineTest.testAutoTransition: the scheduler fires
    # the wait duration (2 s) after opening; here the tick does.
    "testAutoTransition": (
        BreakerConfig(
            wait_duration_in_open_state=timedelta(seconds=2),
            automatic_transition_from_open_to_half_open_enabled=True,
        ),
        [
            ("open", OPEN, None),
            ("+1.999", OPEN, None),
            ("tick", OPEN, None),
            ("+0.001", OPEN, None),
            ("tick", HALF_OPEN, RESET),
        ],
    ),
    # resilience4j's default: no automatic transition, so the tick leaves it open.
    "automaticTransitionDisabledByDefault": (
        BreakerConfig(wait_duration_in_open_state=timedelta(seconds=2)),
        [("open", OPEN, None), ("+60", OPEN, None), ("tick", OPEN, None)],
    ),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(name: str) -> None:
    """Each step leaves the state (and the metrics) resilience4j's test asserts."""
    config, steps = SCENARIOS[name]
    probe = Probe.of(config)
    for index, (step, state, metrics) in enumerate(steps):
        probe.do(step)
        where = f"{name} step {index} ({step})"
        assert probe.breaker.state is state, where
        if metrics is not None:
            assert probe.metrics() == pytest.approx(metrics), where


def test_slow_call_rate_opening_reports_both_rates() -> None:
    """shouldOpenAfterSlowCallRateThresholdExceeded: 3 of 5 slow is 60%, and that opened it."""
    probe = Probe.of()
    for step in ("SF", "SS", "F100", "S100", "SS"):
        probe.do(step)
    [opened] = probe.events
    assert isinstance(opened, BreakerTransitioned)
    assert opened.reason == Reason.SLOW_CALL_RATE
    assert (opened.facts.slow_calls, opened.facts.slow_call_rate) == (3, 60.0)
    assert opened.facts.failure_rate == 40.0


def test_should_not_allow_transition_from_closed_to_half_open() -> None:
    """shouldNotAllowTransitionFromClosedToHalfOpen: refused, and the breaker stays closed."""
    probe = Probe.of()
    with pytest.raises(IllegalBreakerTransitionError, match="cannot go from CLOSED to HALF_OPEN"):
        probe.do("half_open")
    assert probe.breaker.state is CLOSED
    assert probe.events == []


@pytest.mark.parametrize("state", list(BreakerState))
def test_every_state_allows_metrics_only_and_itself(state: BreakerState) -> None:
    """allCircuitBreakerStatesAllowTransitionToMetricsOnlyMode / ...ToItsOwnState."""
    assert (state, METRICS_ONLY) in TRANSITIONS
    assert (state, state) in TRANSITIONS


def test_metrics_only_cannot_open_or_half_open() -> None:
    """resilience4j's table has no METRICS_ONLY -> OPEN or -> HALF_OPEN."""
    assert (METRICS_ONLY, OPEN) not in TRANSITIONS
    assert (METRICS_ONLY, HALF_OPEN) not in TRANSITIONS
    assert len(TRANSITIONS) == 33


def test_internal_transitions_announce_nothing() -> None:
    """circuitBreakerDoesNotPublishStateTransitionEventsForInternalTransitions."""
    probe = Probe.of()
    for expected, target in enumerate(
        ("open", "half_open", "disabled", "metrics_only", "closed"), start=1
    ):
        probe.do(target)
        assert len(probe.events) == expected
        probe.do(target)
        assert len(probe.events) == expected
    assert [e.to_state for e in probe.events if isinstance(e, BreakerTransitioned)] == [
        OPEN,
        HALF_OPEN,
        DISABLED,
        METRICS_ONLY,
        CLOSED,
    ]


def test_metrics_only_announces_each_threshold_once() -> None:
    """shouldPublishEachEventOnceInMetricOnlyState: five slow failures, one announcement."""
    probe = Probe.of()
    probe.do("metrics_only")
    probe.events.clear()
    for _ in range(5):
        probe.do("SF")
    probe.do("SF")
    assert probe.breaker.state is METRICS_ONLY
    [exceeded] = probe.events
    assert isinstance(exceeded, BreakerThresholdsExceeded)
    assert exceeded.failure_rate_exceeded
    assert exceeded.slow_call_rate_exceeded
    assert exceeded.event_type == "slo.breaker.thresholds_exceeded"


def test_opening_carries_its_evidence_and_when_it_retries() -> None:
    """The opened event has the window that decided it, a sequence id and the end of the wait."""
    probe = Probe.of()
    for step in ("F", "F", "F", "S", "S"):
        probe.do(step)
    [opened] = probe.events
    assert isinstance(opened, BreakerTransitioned)
    assert opened.event_type == "slo.breaker.opened"
    assert (opened.from_state, opened.to_state, opened.reason) == (CLOSED, OPEN, "failure_rate")
    assert (opened.facts.calls, opened.facts.failed_calls, opened.facts.failure_rate) == (5, 3, 60)
    assert opened.transition_id == "b-1/1"
    assert opened.attempts == 1
    assert opened.open_until == T0 + timedelta(seconds=5)
    assert opened.summary == "CLOSED -> OPEN: failure rate 60% >= 50% over 5 calls"


def test_a_failed_trial_opens_again_for_longer() -> None:
    """Each opening in a row is one more attempt: the wait grows by the multiplier, to the cap."""
    config = BreakerConfig(
        sliding_window_size=2,
        minimum_number_of_calls=2,
        permitted_number_of_calls_in_half_open_state=1,
        wait_duration_in_open_state=timedelta(seconds=10),
        wait_duration_multiplier=2,
        max_wait_duration_in_open_state=timedelta(seconds=30),
    )
    probe = Probe.of(config)
    waits = []
    probe.do("F")
    probe.do("F")
    for _ in range(3):
        assert probe.breaker.open_until is not None
        waits.append((probe.breaker.open_until - probe.clock.now()).total_seconds())
        probe.clock.set(probe.breaker.open_until + timedelta(milliseconds=1))
        probe.do("F")  # the trial call fails: open again
    assert waits == [10, 20, 30]
    assert probe.breaker.attempts == 4
    probe.clock.set(probe.breaker.open_until + timedelta(milliseconds=1))
    probe.do("S")
    assert probe.breaker.state is CLOSED
    assert probe.breaker.attempts == 0


def test_a_call_after_the_half_open_wait_finds_the_breaker_moved_on() -> None:
    """Without a tick, the next call applies the half-open wait first (then it is not permitted)."""
    probe = Probe.of()
    probe.do("open")
    probe.do("half_open")
    probe.do("+1")
    probe.do("S")
    assert probe.breaker.state is OPEN
    assert probe.metrics()[4] == 1
    assert [e.reason for e in probe.events if isinstance(e, BreakerTransitioned)][-1] == (
        Reason.HALF_OPEN_WAIT_ELAPSED
    )


def test_reconfiguring_keeps_the_state_and_restarts_the_window() -> None:
    """A new configuration judges new calls only; an open breaker keeps its evidence."""
    probe = Probe.of()
    probe.do("F")
    probe.breaker.reconfigure(BreakerConfig(sliding_window_size=3, minimum_number_of_calls=3))
    assert probe.metrics() == RESET
    for _ in range(3):
        probe.do("F")
    assert probe.breaker.state is OPEN
    probe.breaker.reconfigure(BreakerConfig())
    assert probe.metrics()[2] == 3
    assert probe.breaker.due() is None
