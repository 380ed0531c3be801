"""Events a circuit breaker emits: each state transition, and metrics-only threshold crossings.

Like resilience4j, a transition into the state the breaker is already in is
internal and announces nothing. Each event type is named after the state the
breaker entered (`slo.breaker.opened`, ...); adapters map them to their
`portico.events.v1` messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from portico_slo.domain.breakers_config import BreakerState

# The event type announcing that a breaker entered each state.
EVENT_TYPES: dict[BreakerState, str] = {
    BreakerState.OPEN: "slo.breaker.opened",
    BreakerState.HALF_OPEN: "slo.breaker.half_opened",
    BreakerState.CLOSED: "slo.breaker.closed",
    BreakerState.FORCED_OPEN: "slo.breaker.forced_open",
    BreakerState.DISABLED: "slo.breaker.disabled",
    BreakerState.METRICS_ONLY: "slo.breaker.metrics_only",
}
THRESHOLDS_EXCEEDED = "slo.breaker.thresholds_exceeded"


class Reason:
    """Why a breaker changed state (the `reason` of its events)."""

    FAILURE_RATE = "failure_rate"
    SLOW_CALL_RATE = "slow_call_rate"
    FAILURE_AND_SLOW_CALL_RATE = "failure_and_slow_call_rate"
    # The wait in open elapsed: a call came (or, with automatic transition, the tick ran).
    WAIT_ELAPSED = "wait_elapsed"
    # The half-open trial calls were below both thresholds.
    TRIAL_PASSED = "trial_passed"
    # max_wait_duration_in_half_open_state elapsed before the trial was judged.
    HALF_OPEN_WAIT_ELAPSED = "half_open_wait_elapsed"
    # An operator asked for it (ForceBreaker), or reset the breaker.
    FORCED = "forced"
    RESET = "reset"


@dataclass(frozen=True, kw_only=True, slots=True)
class BreakerFacts:
    """Who the breaker is and what its window held when the event happened."""

    tenant_id: str
    breaker_id: str
    plugin: str
    version: str
    slo_id: str
    at: datetime
    calls: int
    failed_calls: int
    slow_calls: int
    # Percentages; -1 while fewer calls than the minimum were seen (resilience4j's convention).
    failure_rate: float
    slow_call_rate: float
    failure_rate_threshold: float
    slow_call_rate_threshold: float


@dataclass(frozen=True, kw_only=True, slots=True)
class BreakerTransitioned:
    """The breaker went from one state to another."""

    facts: BreakerFacts
    from_state: BreakerState
    to_state: BreakerState
    reason: str
    # Unique per breaker: its id and the transition's sequence number.
    transition_id: str
    # Openings in a row (resilience4j's attempts), which lengthen an exponential wait.
    attempts: int
    # Entering OPEN: the moment after which a call is let through as a trial.
    open_until: datetime | None = None
    actor: str = ""
    note: str = ""

    @property
    def event_type(self) -> str:
        return EVENT_TYPES[self.to_state]

    @property
    def summary(self) -> str:
        """One line for people (and for rollout's rollback reason)."""
        facts = self.facts
        if self.reason in (Reason.FAILURE_RATE, Reason.FAILURE_AND_SLOW_CALL_RATE):
            why = (
                f"failure rate {facts.failure_rate:.4g}% >= {facts.failure_rate_threshold:g}%"
                f" over {facts.calls} calls"
            )
            if self.reason == Reason.FAILURE_AND_SLOW_CALL_RATE:
                why += f", slow calls {facts.slow_call_rate:.4g}%"
        elif self.reason == Reason.SLOW_CALL_RATE:
            why = (
                f"slow call rate {facts.slow_call_rate:.4g}% >= "
                f"{facts.slow_call_rate_threshold:g}% over {facts.calls} calls"
            )
        else:
            why = self.reason.replace("_", " ")
            if self.actor:
                why += f" by {self.actor}"
        return f"{self.from_state} -> {self.to_state}: {why}"


@dataclass(frozen=True, kw_only=True, slots=True)
class BreakerThresholdsExceeded:
    """A metrics-only breaker saw a threshold crossed (announced once per threshold)."""

    facts: BreakerFacts
    failure_rate_exceeded: bool
    slow_call_rate_exceeded: bool

    @property
    def event_type(self) -> str:
        return THRESHOLDS_EXCEEDED


BreakerEvent = BreakerTransitioned | BreakerThresholdsExceeded
