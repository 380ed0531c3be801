"""Jobs through `build`: provisioning enqueued with the tenant, runs of the worker, the JobService.

In memory (TenancyWorld), with a recording applier in place of a cluster;
the queue's mechanics are in the integration tests on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from portico.tenancy.v1 import jobs_pb2 as jpb
from portico.tenancy.v1 import tenancy_pb2 as pb
from portico_common.grpc.tokens import Claims, current_claims
from portico_tenancy.app.worker import Outcome
from portico_tenancy.domain.jobs import JobState, RetryPolicy
from portico_tenancy.entrypoints.grpc_jobs import listed_tenant
from portico_tenancy.errors import (
    InvalidJobRequestError,
    JobNotFoundError,
    JobStateError,
    TenantExistsError,
)
from portico_tenancy.testing import TenancyWorld

POLICY = RetryPolicy(base=timedelta(seconds=10), cap=timedelta(minutes=5))
LIMITS = pb.Resources(cpu_millicores=4000, memory_mib=8192, storage_mib=20480)


@dataclass
class Applier:
    """Records applied kinds per session; fails while `failing` is set."""

    failing: bool = False
    sessions: list[list[str]] = field(default_factory=list)

    @asynccontextmanager
    async def session(self, description: str) -> AsyncIterator[Applier]:
        del description
        self.sessions.append([])
        yield self

    async def apply(self, manifest: dict[str, Any]) -> bool:
        if self.failing:
            raise RuntimeError("the API server is down")
        self.sessions[-1].append(manifest["kind"])
        return True

    async def delete(self, manifest: dict[str, Any]) -> None:
        self.sessions[-1].append(f"-{manifest['kind']}")


@pytest.fixture
def applier() -> Applier:
    return Applier()


@pytest.fixture
def world(applier: Applier) -> TenancyWorld:
    return TenancyWorld(applier=applier, retry_policy=POLICY, max_attempts=3)


async def create(world: TenancyWorld, tenant: str = "acme") -> None:
    await world.servicer.CreateTenant(
        pb.CreateTenantRequest(tenant_id=tenant, display_name="Acme"), None
    )


async def test_creating_a_tenant_enqueues_its_provisioning_in_the_same_commit(
    world: TenancyWorld,
) -> None:
    """One commit holds the tenant and its ordered "tenant.provision" job, queued."""
    await create(world)
    [job] = world.tables.jobs.jobs.values()
    assert (job.tenant_id, job.kind, job.ordered, job.state, job.max_attempts) == (
        "acme",
        "tenant.provision",
        True,
        JobState.QUEUED,
        3,
    )
    assert world.tables.jobs.queue == [job.job_id]
    assert world.store.commits == 1


async def test_a_refused_tenant_enqueues_nothing(world: TenancyWorld) -> None:
    """A second CreateTenant for the same id fails and leaves a single job."""
    await create(world)
    with pytest.raises(TenantExistsError):
        await create(world)
    assert len(world.tables.jobs.jobs) == 1


async def test_without_an_applier_no_job_is_enqueued() -> None:
    """provisioning=none: tenants are created, nothing is queued."""
    world = TenancyWorld()
    await create(world)
    assert world.tables.jobs.jobs == {}


async def test_a_new_quota_enqueues_a_reprovisioning(world: TenancyWorld) -> None:
    """SetQuota commits an ordered provisioning job with the quota change."""
    await create(world)
    await world.servicer.SetQuota(
        pb.SetQuotaRequest(tenant_id="acme", limits=LIMITS, max_plugins=5), None
    )
    assert [j.kind for j in world.tables.jobs.jobs.values()] == ["tenant.provision"] * 2


async def test_the_worker_provisions_the_tenant(world: TenancyWorld, applier: Applier) -> None:
    """A run applies the eleven manifests and records the job succeeded after one attempt."""
    await create(world)
    result = await world.runner.run("acme", 1)
    assert result.outcome is Outcome.SUCCEEDED
    assert len(applier.sessions[0]) == 11
    job = world.tables.jobs.jobs[1]
    assert (job.state, job.attempts, job.finished_at) == (JobState.SUCCEEDED, 1, world.clock.now())
    assert (await world.runner.run("acme", 1)).outcome is Outcome.SKIPPED


async def test_failed_attempts_back_off_then_the_job_is_dead(
    world: TenancyWorld, applier: Applier
) -> None:
    """Each failure waits longer (5-10 s, then 10-20 s); the third leaves the job dead."""
    await create(world)
    applier.failing = True
    first = await world.runner.run("acme", 1)
    second = await world.runner.run("acme", 1)
    third = await world.runner.run("acme", 1)
    assert (first.outcome, second.outcome, third.outcome) == (
        Outcome.RETRY,
        Outcome.RETRY,
        Outcome.DEAD,
    )
    assert timedelta(seconds=5) <= first.delay < timedelta(seconds=10)
    assert timedelta(seconds=10) <= second.delay < timedelta(seconds=20)
    job = world.tables.jobs.jobs[1]
    assert (job.state, job.attempts) == (JobState.DEAD, 3)
    assert job.last_error == "RuntimeError: the API server is down"


async def test_a_later_ordered_job_is_held_while_an_earlier_one_is_unfinished(
    world: TenancyWorld, applier: Applier
) -> None:
    """The re-provisioning waits for the first provisioning, then runs."""
    await create(world)
    await world.servicer.SetQuota(
        pb.SetQuotaRequest(tenant_id="acme", limits=LIMITS, max_plugins=5), None
    )
    held = await world.runner.run("acme", 2)
    assert (held.outcome, held.delay) == (Outcome.HELD, POLICY.order_wait)
    assert world.tables.jobs.jobs[2].attempts == 0
    assert (await world.runner.run("acme", 1)).outcome is Outcome.SUCCEEDED
    assert (await world.runner.run("acme", 2)).outcome is Outcome.SUCCEEDED
    assert len(applier.sessions) == 2


async def test_the_job_service_lists_gets_cancels_and_retries(world: TenancyWorld) -> None:
    """Cancel a queued job, retry it, and read it back through the servicer."""
    await create(world)
    cancelled = await world.jobs.CancelJob(jpb.CancelJobRequest(tenant_id="acme", job_id=1), None)
    assert cancelled.job.state == jpb.JOB_STATE_CANCELLED
    assert cancelled.job.HasField("finished_at")
    retried = await world.jobs.RetryJob(jpb.RetryJobRequest(tenant_id="acme", job_id=1), None)
    assert (retried.job.state, retried.job.attempts) == (jpb.JOB_STATE_QUEUED, 0)
    assert not retried.job.HasField("finished_at")
    got = await world.jobs.GetJob(jpb.GetJobRequest(tenant_id="acme", job_id=1), None)
    assert got.job.kind == "tenant.provision"
    listed = await world.jobs.ListJobs(
        jpb.ListJobsRequest(tenant_id="acme", state=jpb.JOB_STATE_QUEUED), None
    )
    assert [j.job_id for j in listed.jobs] == [1]
    none = await world.jobs.ListJobs(
        jpb.ListJobsRequest(tenant_id="acme", state=jpb.JOB_STATE_DEAD), None
    )
    assert list(none.jobs) == []


async def test_the_job_service_refuses_what_the_state_or_tenant_forbids(
    world: TenancyWorld,
) -> None:
    """Retry of a queued job, a job of another tenant, a missing id, a forged page token."""
    await create(world)
    await create(world, "beta")
    with pytest.raises(JobStateError, match="only a dead or cancelled"):
        await world.jobs.RetryJob(jpb.RetryJobRequest(tenant_id="acme", job_id=1), None)
    with pytest.raises(JobNotFoundError):
        await world.jobs.GetJob(jpb.GetJobRequest(tenant_id="beta", job_id=1), None)
    with pytest.raises(InvalidJobRequestError, match="job_id"):
        await world.jobs.GetJob(jpb.GetJobRequest(tenant_id="acme"), None)
    with pytest.raises(InvalidJobRequestError, match="page_token"):
        await world.jobs.ListJobs(jpb.ListJobsRequest(tenant_id="acme", page_token="x"), None)


async def test_a_list_without_a_tenant_is_the_tokens_tenant_or_everyone_for_a_platform(
    world: TenancyWorld,
) -> None:
    """A tenant token lists its own jobs; a platform token (tenant "*") every tenant's."""
    await create(world)
    await create(world, "beta")
    for tenant, expected in (("beta", ["beta"]), ("*", ["beta", "acme"])):
        token = current_claims.set(Claims("someone", tenant, (), 0, "t1", ("tenant-admin",)))
        try:
            assert listed_tenant("") == tenant
            listed = await world.jobs.ListJobs(jpb.ListJobsRequest(), None)
        finally:
            current_claims.reset(token)
        assert [j.tenant_id for j in listed.jobs] == expected
