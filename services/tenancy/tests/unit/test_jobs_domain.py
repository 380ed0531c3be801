"""Jobs in the domain: the states a job goes through, and the backoff between attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portico_tenancy.domain.jobs import Job, JobSpec, JobState, RetryPolicy
from portico_tenancy.errors import JobStateError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(base=timedelta(seconds=2), cap=timedelta(seconds=60))


def job(max_attempts: int = 3) -> Job:
    return Job.new(JobSpec("acme", "tenant.provision", max_attempts=max_attempts), NOW)


def test_the_backoff_doubles_within_its_jitter_band_up_to_the_cap() -> None:
    """Attempt n waits between half and all of base * 2**(n-1), never more than the cap."""
    assert [POLICY.delay(n, 0.0).total_seconds() for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert POLICY.delay(3, 0.999).total_seconds() == pytest.approx(8, abs=0.01)
    assert POLICY.delay(10, 0.5) == timedelta(seconds=45)
    assert POLICY.delay(10_000, 0.999) <= timedelta(seconds=60)


def test_jitter_spreads_jobs_that_failed_together() -> None:
    """Different draws give different waits inside the band."""
    waits = {POLICY.delay(4, unit / 10).total_seconds() for unit in range(10)}
    assert len(waits) == 10
    assert min(waits) >= 8
    assert max(waits) < 16


@pytest.mark.parametrize(("attempt", "unit"), [(0, 0.5), (1, 1.0), (1, -0.1)])
def test_the_backoff_refuses_impossible_inputs(attempt: int, unit: float) -> None:
    """Attempts count from 1 and the random draw is in [0, 1)."""
    with pytest.raises(ValueError, match=r"must|count"):
        POLICY.delay(attempt, unit)


def test_a_failed_attempt_retries_until_the_last_then_the_job_is_dead() -> None:
    """Retrying with a later run_after while attempts remain; dead, finished, with the error."""
    first = job().started(NOW).failed("boom", NOW, timedelta(seconds=3))
    assert (first.state, first.attempts, first.run_after) == (
        JobState.RETRYING,
        1,
        NOW + timedelta(seconds=3),
    )
    assert first.finished_at is None
    last = first.started(NOW).started(NOW).failed("still boom", NOW, timedelta(seconds=9))
    assert (last.state, last.attempts, last.last_error, last.finished_at) == (
        JobState.DEAD,
        3,
        "still boom",
        NOW,
    )


def test_a_long_error_is_cut() -> None:
    """A failure's message is kept up to 2000 characters."""
    failed = job().started(NOW).failed("x" * 5000, NOW, timedelta(0))
    assert len(failed.last_error) == 2000


def test_only_a_dead_or_cancelled_job_can_be_retried_and_then_has_all_attempts() -> None:
    """Retry resets attempts and finished_at; a queued or succeeded job refuses it."""
    dead = job(1).started(NOW).failed("boom", NOW, timedelta(0))
    retried = dead.retried(NOW)
    assert (retried.state, retried.attempts, retried.finished_at) == (JobState.QUEUED, 0, None)
    with pytest.raises(JobStateError, match="only a dead or cancelled"):
        job().retried(NOW)
    with pytest.raises(JobStateError):
        job().started(NOW).succeeded(NOW).retried(NOW)


def test_a_running_or_finished_job_cannot_be_cancelled() -> None:
    """Cancel applies to queued, retrying and dead jobs only."""
    assert job().cancelled(NOW).state is JobState.CANCELLED
    assert job(1).started(NOW).failed("x", NOW, timedelta(0)).cancelled(NOW).finished_at == NOW
    with pytest.raises(JobStateError, match="is running"):
        job().started(NOW).cancelled(NOW)
    with pytest.raises(JobStateError, match="is succeeded"):
        job().started(NOW).succeeded(NOW).cancelled(NOW)


def test_a_job_needs_an_attempt() -> None:
    """max_attempts below one is refused."""
    with pytest.raises(ValueError, match="at least one attempt"):
        job(0)
