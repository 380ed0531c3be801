"""Durable jobs: what a job is, the states it goes through, and how long a failed one waits.

A job runs on a worker (the queue adapter delivers its id); each run is one
attempt. A failed attempt waits an exponentially growing, jittered delay
before the next; after `max_attempts` the job is dead, kept with its error
until someone retries or cancels it. A tenant's *ordered* jobs run one after
the other in the order they were created: a later one waits while an earlier
one is unfinished (dead included, so a failed provisioning is never skipped).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from portico_tenancy.errors import JobStateError

# An error message is kept whole up to this; a longer one is cut (tracebacks go to logs).
MAX_ERROR = 2000


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    CANCELLED = "cancelled"


# A worker that picks the job runs it ("running" too: its last worker died mid-run).
RUNNABLE = frozenset({JobState.QUEUED, JobState.RUNNING, JobState.RETRYING})
# An ordered job of the same tenant created later waits while one of these is unfinished.
HOLDS_LATER_JOBS = RUNNABLE | {JobState.DEAD}
CANCELLABLE = frozenset({JobState.QUEUED, JobState.RETRYING, JobState.DEAD})
RETRYABLE = frozenset({JobState.DEAD, JobState.CANCELLED})


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job to enqueue: what it does, for which tenant, with which input."""

    tenant_id: str
    kind: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    ordered: bool = False
    max_attempts: int = 8


@dataclass(frozen=True, slots=True)
class Job:
    job_id: int
    tenant_id: str
    kind: str
    payload: Mapping[str, Any]
    ordered: bool
    state: JobState
    attempts: int
    max_attempts: int
    last_error: str
    run_after: datetime
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None

    @classmethod
    def new(cls, spec: JobSpec, now: datetime) -> Job:
        """A queued job (id 0 until the repository stores it)."""
        if spec.max_attempts < 1:
            raise ValueError("a job needs at least one attempt")
        return cls(
            job_id=0,
            tenant_id=spec.tenant_id,
            kind=spec.kind,
            payload=dict(spec.payload),
            ordered=spec.ordered,
            state=JobState.QUEUED,
            attempts=0,
            max_attempts=spec.max_attempts,
            last_error="",
            run_after=now,
            created_at=now,
            updated_at=now,
        )

    @property
    def runnable(self) -> bool:
        return self.state in RUNNABLE

    def started(self, now: datetime) -> Job:
        """The job as one more attempt begins."""
        return replace(self, state=JobState.RUNNING, attempts=self.attempts + 1, updated_at=now)

    def failed(self, error: str, now: datetime, retry_in: timedelta) -> Job:
        """After a failed attempt: retrying in `retry_in`, or dead when no attempt is left."""
        error = error[:MAX_ERROR]
        if self.attempts >= self.max_attempts:
            return replace(
                self, state=JobState.DEAD, last_error=error, updated_at=now, finished_at=now
            )
        return replace(
            self,
            state=JobState.RETRYING,
            last_error=error,
            run_after=now + retry_in,
            updated_at=now,
        )

    def succeeded(self, now: datetime) -> Job:
        return replace(self, state=JobState.SUCCEEDED, updated_at=now, finished_at=now)

    def cancelled(self, now: datetime) -> Job:
        if self.state not in CANCELLABLE:
            raise JobStateError(
                f"job {self.job_id} is {self.state}: only a queued, retrying or dead job"
                " can be cancelled"
            )
        return replace(self, state=JobState.CANCELLED, updated_at=now, finished_at=now)

    def retried(self, now: datetime) -> Job:
        """A dead or cancelled job queued again with all its attempts."""
        if self.state not in RETRYABLE:
            raise JobStateError(
                f"job {self.job_id} is {self.state}: only a dead or cancelled job can be retried"
            )
        return replace(
            self,
            state=JobState.QUEUED,
            attempts=0,
            run_after=now,
            updated_at=now,
            finished_at=None,
        )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter between attempts, and the wait of an ordered job.

    The n-th failure waits between half and all of `base * multiplier**(n-1)`
    (capped at `cap`): "equal jitter", so retries of many jobs that failed
    together spread out, yet none comes back almost at once.
    """

    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=5)
    multiplier: float = 2.0
    # How soon a job held back by an earlier one of its tenant looks again.
    order_wait: timedelta = timedelta(seconds=1)

    def delay(self, attempt: int, unit: float) -> timedelta:
        """The wait after failed attempt `attempt` (1-based); `unit` is uniform in [0, 1)."""
        if attempt < 1:
            raise ValueError("attempts count from 1")
        if not 0.0 <= unit < 1.0:
            raise ValueError("unit must be in [0, 1)")
        # In float seconds, the exponent bounded: a thousandth attempt must not overflow.
        growth = self.multiplier ** min(attempt - 1, 64)
        ceiling = min(self.cap.total_seconds(), self.base.total_seconds() * growth)
        return timedelta(seconds=ceiling / 2 + ceiling / 2 * unit)
