"""A circuit breaker per plugin version: resilience4j's CircuitBreakerStateMachine, pure.

The breaker is fed the outcomes slo ingests instead of wrapping calls, so
"a call" is a reported outcome and "acquiring a permission" is its arrival:

- CLOSED records each call in its sliding window; once the window holds the
  minimum number of calls and the failure rate or the slow-call rate reaches
  its threshold, it opens.
- OPEN lets no call through until the wait in open has passed. The first
  call after it (or, with automatic transition, the evaluator's tick at that
  moment) moves it to HALF_OPEN. An outcome reported before then is a call
  made although none was permitted: it is counted as such (resilience4j's
  not-permitted calls) and judged by nothing, so the window kept from the
  state that opened the breaker stays the evidence of why it opened.
- HALF_OPEN judges a fresh count window of the permitted trial calls: above a
  threshold it opens again (one more attempt, which lengthens an exponential
  wait), below both it closes. With a maximum wait in half-open, the tick
  moves it to the configured state once that wait passes.
- FORCED_OPEN and DISABLED record nothing and never move by themselves;
  METRICS_ONLY records and announces a crossed threshold once, but never opens.

Every method takes `now`; nothing reads a clock. State changes return the
events to publish; the allowed transitions are resilience4j's StateTransition table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from portico_slo.domain._time import require_aware
from portico_slo.domain.breakers_config import BreakerConfig, BreakerState, WindowType
from portico_slo.domain.breakers_events import (
    BreakerEvent,
    BreakerFacts,
    BreakerThresholdsExceeded,
    BreakerTransitioned,
    Reason,
)
from portico_slo.domain.breakers_windows import (
    Call,
    CountWindow,
    Limits,
    Snapshot,
    TimeWindow,
    Window,
    classify,
    epoch_second,
)
from portico_slo.errors import IllegalBreakerTransitionError

S = BreakerState
# resilience4j's CircuitBreaker.StateTransition: every (from, to) that is allowed.
TRANSITIONS: frozenset[tuple[BreakerState, BreakerState]] = frozenset(
    [(S.CLOSED, t) for t in (S.CLOSED, S.OPEN, S.DISABLED, S.METRICS_ONLY, S.FORCED_OPEN)]
    + [
        (S.HALF_OPEN, t)
        for t in (S.HALF_OPEN, S.CLOSED, S.OPEN, S.DISABLED, S.METRICS_ONLY, S.FORCED_OPEN)
    ]
    + [
        (S.OPEN, t)
        for t in (S.OPEN, S.CLOSED, S.HALF_OPEN, S.DISABLED, S.METRICS_ONLY, S.FORCED_OPEN)
    ]
    + [
        (S.FORCED_OPEN, t)
        for t in (S.FORCED_OPEN, S.CLOSED, S.OPEN, S.DISABLED, S.METRICS_ONLY, S.HALF_OPEN)
    ]
    + [
        (S.DISABLED, t)
        for t in (S.DISABLED, S.CLOSED, S.OPEN, S.FORCED_OPEN, S.HALF_OPEN, S.METRICS_ONLY)
    ]
    + [(S.METRICS_ONLY, t) for t in (S.METRICS_ONLY, S.CLOSED, S.FORCED_OPEN, S.DISABLED)]
)


class Verdict(Enum):
    """resilience4j's CircuitBreakerMetrics.Result."""

    BELOW_MINIMUM_CALLS = "below_minimum_calls"
    BELOW_THRESHOLDS = "below_thresholds"
    FAILURE_RATE_ABOVE = "failure_rate_above"
    SLOW_CALL_RATE_ABOVE = "slow_call_rate_above"
    BOTH_ABOVE = "both_above"

    @property
    def exceeded(self) -> bool:
        return self not in (Verdict.BELOW_MINIMUM_CALLS, Verdict.BELOW_THRESHOLDS)

    @property
    def reason(self) -> str:
        return {
            Verdict.FAILURE_RATE_ABOVE: Reason.FAILURE_RATE,
            Verdict.SLOW_CALL_RATE_ABOVE: Reason.SLOW_CALL_RATE,
            Verdict.BOTH_ABOVE: Reason.FAILURE_AND_SLOW_CALL_RATE,
        }[self]


def judge(snapshot: Snapshot, minimum_calls: int, config: BreakerConfig) -> Verdict:
    """Thresholds are reached at `>=`, and only once the minimum number of calls was seen."""
    if snapshot.calls == 0 or snapshot.calls < minimum_calls:
        return Verdict.BELOW_MINIMUM_CALLS
    # failed/calls*100 >= threshold, without float division.
    failing = snapshot.failed * 100.0 >= config.failure_rate_threshold * snapshot.calls
    slow = snapshot.slow * 100.0 >= config.slow_call_rate_threshold * snapshot.calls
    if failing and slow:
        return Verdict.BOTH_ABOVE
    if failing:
        return Verdict.FAILURE_RATE_ABOVE
    if slow:
        return Verdict.SLOW_CALL_RATE_ABOVE
    return Verdict.BELOW_THRESHOLDS


@dataclass(frozen=True, slots=True)
class BreakerMetrics:
    """resilience4j's CircuitBreaker.Metrics of the current state's window."""

    window: Snapshot
    # -1 while fewer calls than the minimum were seen.
    failure_rate: float
    slow_call_rate: float
    not_permitted_calls: int


@dataclass
class Breaker:
    """One plugin version's breaker; `record`, `tick`, `transition`, `reset` change it."""

    breaker_id: str
    tenant_id: str
    plugin: str
    version: str
    config: BreakerConfig
    since: datetime
    state: BreakerState = BreakerState.CLOSED
    attempts: int = 0
    window: Window | None = None
    # The minimum number of calls the window is judged with (resilience4j keeps it per metrics).
    window_minimum: int = 0
    not_permitted_calls: int = 0
    open_until: datetime | None = None
    half_open_until: datetime | None = None
    # METRICS_ONLY: the thresholds already announced ("failure_rate", "slow_call_rate").
    announced: frozenset[str] = field(default_factory=frozenset)
    # Transitions so far; numbers each transition's id.
    transitions: int = 0
    # The SLO it was created with ("" when configured on its own).
    slo_id: str = ""

    @classmethod
    def create(
        cls,
        *,
        breaker_id: str,
        tenant_id: str,
        plugin: str,
        version: str,
        config: BreakerConfig,
        now: datetime,
        slo_id: str = "",
    ) -> Breaker:
        """A new breaker, CLOSED with an empty window (resilience4j's initial state)."""
        breaker = cls(breaker_id, tenant_id, plugin, version, config, require_aware(now, "now"))
        breaker.slo_id = slo_id
        breaker._fresh_window()
        return breaker

    # -- calls --------------------------------------------------------------------------

    def record(
        self, success: bool, latency_ms: int, at: datetime, now: datetime
    ) -> list[BreakerEvent]:
        """One reported outcome (it happened `at`, arrives `now`); returns what it caused."""
        return self.record_seconds([(success, latency_ms, epoch_second(at))], now)

    def record_all(
        self, outcomes: Iterable[tuple[bool, int, datetime]], now: datetime
    ) -> list[BreakerEvent]:
        """`record` for each (success, latency in ms, time) in turn; what they caused, in order."""
        return self.record_seconds(((s, ms, epoch_second(at)) for s, ms, at in outcomes), now)

    def record_seconds(
        self, outcomes: Iterable[tuple[bool, int, int]], now: datetime
    ) -> list[BreakerEvent]:
        """`record_all`, each time given as its epoch second: all a window keeps of it."""
        slow_ms = self.config.slow_call_duration_ms
        current = epoch_second(now)
        events: list[BreakerEvent] = []
        pending = iter(outcomes)
        while True:
            window = self.window
            if self.state is S.CLOSED and isinstance(window, CountWindow):
                # Closed, a count window only records until a threshold is reached.
                limits = Limits(
                    self.window_minimum,
                    self.config.failure_rate_threshold,
                    self.config.slow_call_rate_threshold,
                )
                if not window.record_until(pending, slow_ms, limits):
                    return events
                verdict = judge(window.total, self.window_minimum, self.config)
                events += self._enter(S.OPEN, now, verdict.reason, attempts=self.attempts + 1)
                continue
            outcome = next(pending, None)
            if outcome is None:
                return events
            success, latency_ms, second = outcome
            events += self._record(classify(success, latency_ms, slow_ms), second, current, now)

    def _record(self, call: Call, second: int, current: int, now: datetime) -> list[BreakerEvent]:
        events: list[BreakerEvent] = (
            self._half_open_expired(now) if self.state is S.HALF_OPEN else []
        )
        if self.state is S.DISABLED:
            return events
        if self.state is S.FORCED_OPEN:
            self.not_permitted_calls += 1
            return events
        if self.state is S.OPEN:
            # resilience4j's OpenState.tryAcquirePermission: strictly after the wait.
            if self.open_until is not None and now > self.open_until:
                events += self._enter(S.HALF_OPEN, now, Reason.WAIT_ELAPSED)
            else:
                self.not_permitted_calls += 1
                return events
        assert self.window is not None  # noqa: S101 - every remaining state keeps a window
        snapshot = self.window.record_second(call, second, current)
        verdict = judge(snapshot, self.window_minimum, self.config)
        if self.state is S.METRICS_ONLY:
            return events + self._announce(verdict, now)
        if verdict.exceeded:
            events += self._enter(S.OPEN, now, verdict.reason, attempts=self.attempts + 1)
        elif self.state is S.HALF_OPEN and verdict is Verdict.BELOW_THRESHOLDS:
            events += self._enter(S.CLOSED, now, Reason.TRIAL_PASSED, attempts=0)
        return events

    def tick(self, now: datetime) -> list[BreakerEvent]:
        """What resilience4j's scheduler does: open -> half-open, and the half-open wait."""
        events = self._half_open_expired(now)
        if (
            self.state is S.OPEN
            and self.config.automatic_transition_from_open_to_half_open_enabled
            and self.open_until is not None
            and now >= self.open_until
        ):
            events += self._enter(S.HALF_OPEN, now, Reason.WAIT_ELAPSED)
        return events

    def due(self) -> datetime | None:
        """When `tick` would change this breaker next, if ever."""
        if self.state is S.HALF_OPEN:
            return self.half_open_until
        if self.state is S.OPEN and self.config.automatic_transition_from_open_to_half_open_enabled:
            return self.open_until
        return None

    # -- operators -------------------------------------------------------------------------

    def transition(
        self,
        target: BreakerState,
        now: datetime,
        *,
        actor: str = "",
        note: str = "",
        open_for: timedelta | None = None,
    ) -> list[BreakerEvent]:
        """Moves the breaker to `target` by hand, if resilience4j's table allows it.

        As there, a transition to the current state starts that state afresh
        (new window, new wait) but announces nothing.
        """
        if (self.state, target) not in TRANSITIONS:
            raise IllegalBreakerTransitionError(self.breaker_id, self.state, target)
        attempts = {
            S.OPEN: self.attempts if open_for is not None else self.attempts + 1,
            S.FORCED_OPEN: self.attempts + 1,
            S.HALF_OPEN: self.attempts,
        }.get(target, 0)
        return self._enter(
            target, now, Reason.FORCED, attempts=attempts, actor=actor, note=note, open_for=open_for
        )

    def reset(self, now: datetime, *, actor: str = "", note: str = "") -> list[BreakerEvent]:
        """Back to CLOSED with an empty window from any state (announced if it was not closed)."""
        return self._enter(S.CLOSED, now, Reason.RESET, attempts=0, actor=actor, note=note)

    def reconfigure(self, config: BreakerConfig) -> None:
        """A new configuration: the state stays, its window starts afresh under the new one."""
        self.config = config
        if self.state is not S.OPEN:
            self._fresh_window()

    # -- reading ---------------------------------------------------------------------------

    def metrics(self, now: datetime) -> BreakerMetrics:
        snapshot = self.window.snapshot(now) if self.window is not None else Snapshot()
        enough = snapshot.calls > 0 and snapshot.calls >= self.window_minimum
        return BreakerMetrics(
            window=snapshot,
            failure_rate=snapshot.failure_rate if enough else -1.0,
            slow_call_rate=snapshot.slow_call_rate if enough else -1.0,
            not_permitted_calls=self.not_permitted_calls,
        )

    # -- internals ------------------------------------------------------------------------

    def _half_open_expired(self, now: datetime) -> list[BreakerEvent]:
        if self.state is not S.HALF_OPEN or self.half_open_until is None:
            return []
        if now < self.half_open_until:
            return []
        target = self.config.transition_to_state_after_wait_duration
        attempts = self.attempts + 1 if target is S.OPEN else 0
        return self._enter(target, now, Reason.HALF_OPEN_WAIT_ELAPSED, attempts=attempts)

    def _announce(self, verdict: Verdict, now: datetime) -> list[BreakerEvent]:
        crossed = set()
        if verdict in (Verdict.FAILURE_RATE_ABOVE, Verdict.BOTH_ABOVE):
            crossed.add(Reason.FAILURE_RATE)
        if verdict in (Verdict.SLOW_CALL_RATE_ABOVE, Verdict.BOTH_ABOVE):
            crossed.add(Reason.SLOW_CALL_RATE)
        if crossed <= self.announced:
            return []
        self.announced = self.announced | crossed
        return [
            BreakerThresholdsExceeded(
                facts=self._facts(now),
                failure_rate_exceeded=Reason.FAILURE_RATE in crossed,
                slow_call_rate_exceeded=Reason.SLOW_CALL_RATE in crossed,
            )
        ]

    def _facts(self, now: datetime) -> BreakerFacts:
        metrics = self.metrics(now)
        return BreakerFacts(
            tenant_id=self.tenant_id,
            breaker_id=self.breaker_id,
            plugin=self.plugin,
            version=self.version,
            slo_id=self.slo_id,
            at=now,
            calls=metrics.window.calls,
            failed_calls=metrics.window.failed,
            slow_calls=metrics.window.slow,
            failure_rate=metrics.failure_rate,
            slow_call_rate=metrics.slow_call_rate,
            failure_rate_threshold=self.config.failure_rate_threshold,
            slow_call_rate_threshold=self.config.slow_call_rate_threshold,
        )

    def _enter(
        self,
        target: BreakerState,
        now: datetime,
        reason: str,
        *,
        attempts: int | None = None,
        actor: str = "",
        note: str = "",
        open_for: timedelta | None = None,
    ) -> list[BreakerEvent]:
        require_aware(now, "now")
        facts = self._facts(now)  # the window that decided, before it is replaced
        before = self.state
        self.state, self.since = target, now
        self.attempts = self.attempts if attempts is None else attempts
        self.open_until = self.half_open_until = None
        self.announced = frozenset()
        if target is S.OPEN:
            # resilience4j's OpenState keeps the metrics of the state it came from.
            wait = open_for if open_for is not None else self.config.wait_in_open(self.attempts)
            self.open_until = now + wait
        else:
            self.not_permitted_calls = 0
            self._fresh_window()
            if target is S.HALF_OPEN and self.config.max_wait_duration_in_half_open_state:
                self.half_open_until = now + self.config.max_wait_duration_in_half_open_state
        if before is target:
            return []  # an internal transition: resilience4j publishes none
        self.transitions += 1
        return [
            BreakerTransitioned(
                facts=facts,
                from_state=before,
                to_state=target,
                reason=reason,
                transition_id=f"{self.breaker_id}/{self.transitions}",
                attempts=self.attempts,
                open_until=self.open_until,
                actor=actor,
                note=note,
            )
        ]

    def _fresh_window(self) -> None:
        """The window a state starts with (resilience4j's CircuitBreakerMetrics.for*)."""
        config = self.config
        if self.state in (S.CLOSED, S.METRICS_ONLY):
            if config.sliding_window_type is WindowType.COUNT_BASED:
                self.window = CountWindow(config.sliding_window_size)
            else:
                self.window = TimeWindow(config.sliding_window_size)
            self.window_minimum = config.effective_minimum_calls
        elif self.state is S.HALF_OPEN:
            self.window = CountWindow(config.permitted_number_of_calls_in_half_open_state)
            self.window_minimum = config.half_open_minimum_calls
        else:
            self.window, self.window_minimum = None, 0
