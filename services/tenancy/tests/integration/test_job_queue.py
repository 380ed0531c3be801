"""The durable job queue on real PostgreSQL: pgqueuer's worker, tenancy's job rows.

Jobs are enqueued in the transaction of the change that causes them; a
failing job backs off (exponentially, jittered) and dies with its error after
its last attempt, parked until RetryJob; a tenant's ordered jobs run in the
order they were created; a cancelled job never runs.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from portico_common.clock import SystemClock
from portico_common.db import Database
from portico_embedded.testing.fixtures import unique_tenant
from portico_tenancy.adapters.postgres import pg_uow_factory
from portico_tenancy.adapters.queue_worker import QueueWorker, WorkerSettings
from portico_tenancy.app import handlers, jobs
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.app.worker import JobRunner
from portico_tenancy.domain.jobs import Job, JobSpec, JobState, RetryPolicy
from portico_tenancy.errors import JobNotFoundError

pytestmark = pytest.mark.integration

POLICY = RetryPolicy(
    base=timedelta(seconds=0.2), cap=timedelta(seconds=1), order_wait=timedelta(seconds=0.05)
)
WORKER = WorkerSettings(concurrency=4, heartbeat=timedelta(seconds=5), poll=timedelta(seconds=0.2))


@dataclass
class Work:
    """The test's job handler: records each attempt, fails while told to."""

    failures_left: dict[str, int] = field(default_factory=dict)
    started: list[tuple[str, float]] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)

    async def __call__(self, job: Job) -> None:
        name = str(job.payload["name"])
        self.started.append((name, time.monotonic()))
        await asyncio.sleep(0.05)
        if self.failures_left.get(name, 0) != 0:
            self.failures_left[name] -= 1
            raise RuntimeError(f"{name} is not ready yet")
        self.finished.append(name)


@dataclass
class Queue:
    uow: UnitOfWorkFactory
    db: Database
    work: Work

    def spec(self, tenant: str, name: str, *, ordered: bool = True, attempts: int = 3) -> JobSpec:
        return JobSpec(tenant, "test.work", {"name": name}, ordered=ordered, max_attempts=attempts)

    async def tenant_with(self, *names: str) -> tuple[str, list[Job]]:
        """A new tenant and its jobs, enqueued in the order given."""
        tenant = unique_tenant()
        await handlers.create_tenant(self.uow, tenant, "Acme")
        created = []
        for name in names:
            async with self.uow(tenant) as tx:
                created.append(await jobs.enqueue(tx, self.spec(tenant, name)))
        return tenant, created

    async def until(
        self, tenant: str, job_id: int, done: Callable[[Job], bool], wait: float = 30.0
    ) -> Job:
        deadline = time.monotonic() + wait
        while True:
            job = await jobs.get_job(self.uow, tenant, job_id)
            if done(job):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job.state} after {wait}s: {job}")
            await asyncio.sleep(0.05)

    async def until_queue(self, job_id: int, statuses: list[str], wait: float = 10.0) -> None:
        deadline = time.monotonic() + wait
        while (found := await self.queue_rows(job_id)) != statuses:
            if time.monotonic() > deadline:
                raise AssertionError(f"queue rows of job {job_id} are {found}, not {statuses}")
            await asyncio.sleep(0.05)

    async def queue_rows(self, job_id: int) -> list[str]:
        return [
            r["status"]
            for r in await self.db.pool.fetch(
                "SELECT status::text FROM pgqueuer WHERE dedupe_key = $1",
                f"tenancy-job-{job_id}",
            )
        ]

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[None]:
        runner = JobRunner(self.uow, {"test.work": self.work}, POLICY)
        stop = asyncio.Event()
        running = asyncio.create_task(QueueWorker(self.db.pool, runner, WORKER)(stop))
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(running, timeout=15)


@pytest.fixture
def queue(tenancy_db: Database) -> Queue:
    return Queue(pg_uow_factory(tenancy_db, SystemClock()), tenancy_db, Work())


def runs(names: list[tuple[str, float]]) -> list[str]:
    return [name for name, _ in names]


async def test_a_job_commits_with_its_change_or_not_at_all(queue: Queue) -> None:
    """Enqueued in a transaction that rolls back, neither the job row nor its queue row remains."""
    tenant, [kept] = await queue.tenant_with("kept")

    async def enqueue_then_fail() -> None:
        async with queue.uow(tenant) as tx:
            await jobs.enqueue(tx, queue.spec(tenant, "lost"))
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        await enqueue_then_fail()

    listed, _ = await jobs.list_jobs(queue.uow, tenant)
    assert [j.job_id for j in listed] == [kept.job_id]
    assert await queue.queue_rows(kept.job_id) == ["queued"]
    assert await queue.db.pool.fetchval("SELECT count(*) FROM pgqueuer") == 1


async def test_the_worker_runs_a_job_to_success(queue: Queue) -> None:
    """A queued job runs once, is recorded succeeded, and leaves the queue."""
    tenant, [job] = await queue.tenant_with("one")
    async with queue.worker():
        done = await queue.until(tenant, job.job_id, lambda j: j.state is JobState.SUCCEEDED)
        await queue.until_queue(job.job_id, [])
    assert (done.attempts, done.last_error, runs(queue.work.started)) == (1, "", ["one"])
    assert done.finished_at is not None


async def test_a_failing_job_backs_off_then_dies_and_retry_runs_it_again(queue: Queue) -> None:
    """Three attempts with growing waits, then dead with the error; RetryJob runs it to success."""
    tenant, [job] = await queue.tenant_with("flaky")
    queue.work.failures_left["flaky"] = 3
    async with queue.worker():
        dead = await queue.until(tenant, job.job_id, lambda j: j.state is JobState.DEAD)
        assert dead.attempts == 3
        assert dead.last_error == "RuntimeError: flaky is not ready yet"
        # Parked in the queue as pgqueuer's "failed" until someone retries it.
        await queue.until_queue(job.job_id, ["failed"])
        times = [t for _, t in queue.work.started]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # Equal jitter: the n-th wait is between half and all of 0.2 s * 2**(n-1).
        assert gaps[0] >= 0.1
        assert gaps[1] >= 0.2

        retried = await jobs.retry_job(queue.uow, tenant, job.job_id)
        assert (retried.state, retried.attempts) == (JobState.QUEUED, 0)
        done = await queue.until(tenant, job.job_id, lambda j: j.state is JobState.SUCCEEDED)
        await queue.until_queue(job.job_id, [])
    assert done.attempts == 1
    assert runs(queue.work.started) == ["flaky"] * 4


async def test_a_tenants_ordered_jobs_run_in_order_even_when_the_first_retries(
    queue: Queue,
) -> None:
    """The second and third job wait for the first, which fails once before it succeeds."""
    tenant, created = await queue.tenant_with("first", "second", "third")
    queue.work.failures_left["first"] = 1
    async with queue.worker():
        await queue.until(tenant, created[-1].job_id, lambda j: j.state is JobState.SUCCEEDED)
    assert runs(queue.work.started) == ["first", "first", "second", "third"]
    assert queue.work.finished == ["first", "second", "third"]


async def test_unordered_jobs_of_other_tenants_do_not_wait(queue: Queue) -> None:
    """Another tenant's job runs while this tenant's first job is dead."""
    stuck, [blocked] = await queue.tenant_with("stuck")
    queue.work.failures_left["stuck"] = -1  # fails for ever
    other, [free] = await queue.tenant_with("free")
    async with queue.worker():
        await queue.until(other, free.job_id, lambda j: j.state is JobState.SUCCEEDED)
        await queue.until(stuck, blocked.job_id, lambda j: j.state is JobState.DEAD)


async def test_a_cancelled_job_never_runs(queue: Queue) -> None:
    """Cancelled before a worker picks it, the job is dropped and its handler never called."""
    tenant, [job, later] = await queue.tenant_with("cancelled", "later")
    cancelled = await jobs.cancel_job(queue.uow, tenant, job.job_id)
    assert cancelled.state is JobState.CANCELLED
    async with queue.worker():
        await queue.until(tenant, later.job_id, lambda j: j.state is JobState.SUCCEEDED)
    assert runs(queue.work.started) == ["later"]
    assert (await jobs.get_job(queue.uow, tenant, job.job_id)).state is JobState.CANCELLED


async def test_a_tenant_sees_only_its_own_jobs(queue: Queue) -> None:
    """Row-level security: another tenant's job is not found, and not listed."""
    acme, [job] = await queue.tenant_with("mine")
    other, _ = await queue.tenant_with()

    with pytest.raises(JobNotFoundError):
        await jobs.get_job(queue.uow, other, job.job_id)
    listed, _ = await jobs.list_jobs(queue.uow, other)
    assert listed == []
    everyone, _ = await jobs.list_jobs(queue.uow, "*")
    assert [j.tenant_id for j in everyone] == [acme]


async def test_jobs_are_listed_newest_first_in_pages(queue: Queue) -> None:
    """page_size and the next page token walk the tenant's jobs from the newest."""
    tenant, created = await queue.tenant_with("a", "b", "c")
    first, token = await jobs.list_jobs(queue.uow, tenant, page_size=2)
    second, end = await jobs.list_jobs(queue.uow, tenant, page_size=2, page_token=token)
    assert [j.job_id for j in first + second] == [j.job_id for j in reversed(created)]
    assert end == ""
