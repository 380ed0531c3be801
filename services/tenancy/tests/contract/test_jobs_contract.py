"""What every adapter of the job repository must do about cancellable jobs (memory, PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from portico_common.tenants import ALL_TENANTS
from portico_tenancy.domain.jobs import Job, JobSpec, JobState
from portico_tenancy.domain.tenant import Tenant

if TYPE_CHECKING:
    # conftest is not importable at run time under --import-mode=importlib.
    from conftest import Backend

STATES = [
    JobState.QUEUED,
    JobState.RUNNING,
    JobState.RETRYING,
    JobState.SUCCEEDED,
    JobState.DEAD,
    JobState.CANCELLED,
]


async def _job(backend: Backend, tenant_id: str, kind: str, attempts: int = 8) -> Job:
    spec = JobSpec(tenant_id, kind, ordered=True, max_attempts=attempts)
    async with backend.uow(tenant_id) as tx:
        return await tx.jobs.add(Job.new(spec, tx.clock.now()))


def _moved(job: Job, state: JobState, now: datetime) -> Job:
    """The job brought to `state` through the domain's own moves."""
    started = job.started(now)
    match state:
        case JobState.QUEUED:
            return job
        case JobState.RUNNING:
            return started
        case JobState.RETRYING | JobState.DEAD:
            # One attempt allowed: failing it is dead; more: retrying.
            return started.failed("the API server is down", now, timedelta(seconds=5))
        case JobState.SUCCEEDED:
            return started.succeeded(now)
        case JobState.CANCELLED:
            return job.cancelled(now)


async def test_cancellable_are_the_tenants_queued_retrying_and_dead_jobs_oldest_first(
    backend: Backend,
) -> None:
    """Succeeded, running and cancelled jobs are left out, and so are other tenants' jobs."""
    for tenant_id in ("acme", "beta"):
        async with backend.uow(tenant_id) as tx:
            assert await tx.tenants.add(Tenant.create(tenant_id, "", backend.clock.now()))
    made = [
        await _job(backend, "acme", f"k-{state}", 1 if state is JobState.DEAD else 8)
        for state in STATES
    ]
    await _job(backend, "beta", "other")
    async with backend.uow("acme") as tx:
        for job, state in zip(made, STATES, strict=True):
            moved = _moved(job, state, backend.clock.now())
            assert moved.state is state
            await tx.jobs.save(moved)

    async with backend.uow(ALL_TENANTS) as tx:
        found = await tx.jobs.cancellable("acme")
    async with backend.uow("beta") as tx:
        hidden = await tx.jobs.cancellable("acme")

    assert [(job.kind, job.state) for job in found] == [
        ("k-queued", JobState.QUEUED),
        ("k-retrying", JobState.RETRYING),
        ("k-dead", JobState.DEAD),
    ]
    # Row-level security: another tenant's transaction sees none of acme's jobs.
    assert hidden == []
