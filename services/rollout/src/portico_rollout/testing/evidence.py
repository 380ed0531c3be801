"""Evidence for tests: a canary (and baseline) with the outcomes a scenario needs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from portico_rollout.domain.events import RolloutDecisionRecorded, RolloutEvent
from portico_rollout.domain.evidence import Evidence, IntervalOutcomes, VersionOutcomes
from portico_rollout.domain.rollout import Rollout


def version_outcomes(
    version: str,
    start: datetime,
    *,
    totals: Sequence[int],
    errors: Sequence[int] | None = None,
    latencies: Sequence[float] | None = None,
    step_seconds: int = 10,
    burn_rate: float = 0.0,
) -> VersionOutcomes:
    """One version with one interval per entry of `totals` (errors and p95 latency per interval)."""
    errors = errors or [0] * len(totals)
    latencies = latencies or [50.0] * len(totals)
    intervals = tuple(
        IntervalOutcomes(
            start=start + timedelta(seconds=step_seconds * i),
            total=total,
            errors=error,
            latency_mean_ms=latency * 0.8,
            latency_p50_ms=latency * 0.7,
            latency_p95_ms=latency,
            latency_p99_ms=latency * 1.2,
        )
        for i, (total, error, latency) in enumerate(zip(totals, errors, latencies, strict=True))
    )
    return VersionOutcomes(
        version=version,
        total=sum(totals),
        errors=sum(errors),
        latency_p95_ms=max(latencies, default=0.0),
        latency_p99_ms=max(latencies, default=0.0) * 1.2,
        burn_rate=burn_rate,
        intervals=intervals,
    )


def healthy(rollout: Rollout, now: datetime, *, samples: int = 100) -> Evidence:
    """Plenty of good outcomes of the canary, and of the stable version if there is one."""
    start = rollout.phase_started_at or now
    canary = version_outcomes(rollout.version, start, totals=[samples // 10] * 10)
    baseline = (
        version_outcomes(rollout.stable_version, start, totals=[samples // 10] * 10)
        if rollout.stable_version
        else None
    )
    # The window's end is only reported, never judged: a fixed one keeps `now` untouched.
    end = start + timedelta(minutes=1)
    return Evidence(window_start=start, window_end=end, canary=canary, baseline=baseline)


def empty(rollout: Rollout, now: datetime) -> Evidence:
    """No outcome at all in the window."""
    start = rollout.phase_started_at or now
    return Evidence(
        window_start=start,
        window_end=start + timedelta(minutes=1),
        canary=version_outcomes(rollout.version, start, totals=[]),
    )


def step(rollout: Rollout, now: datetime) -> list[RolloutEvent]:
    """The scheduler's step on healthy evidence; the share's events (decisions left out)."""
    events = rollout.evaluate(now, healthy(rollout, now))
    return [e for e in events if not isinstance(e, RolloutDecisionRecorded)]
