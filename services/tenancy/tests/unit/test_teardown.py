"""The deletion saga's namespace step in memory: jobs cancelled, teardown ordered, reported.

Through `build` (TenancyWorld) with a cluster stand-in: when the grace period
ends the tenant's queued, retrying and dead jobs are cancelled and an ordered
"tenant.teardown" job is enqueued in the same commit; the tenant is `deleted`
only once every data service and that job have reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from portico.events.v1 import events_pb2 as ev
from portico.tenancy.v1 import tenancy_pb2 as pb
from portico_common.events.topology import tenant_data_services
from portico_tenancy.app import jobs, lifecycle
from portico_tenancy.app.worker import Outcome
from portico_tenancy.domain.jobs import Job, JobState, RetryPolicy
from portico_tenancy.domain.provisioning import CLUSTER_PARTICIPANT, manifest_key
from portico_tenancy.domain.tenant import TenantState
from portico_tenancy.entrypoints.deletions import DeletionScheduler
from portico_tenancy.testing import TenancyWorld

GRACE = timedelta(days=7)
LIMITS = pb.Resources(cpu_millicores=4000, memory_mib=8192, storage_mib=20480)
POLICY = RetryPolicy(base=timedelta(seconds=10), cap=timedelta(minutes=5))


@dataclass
class Cluster:
    """Objects by key; applies fail while `failing`; an apply waits for `gate` when set."""

    objects: set[tuple[str, str, str, str]] = field(default_factory=set)
    failing: bool = False
    gate: asyncio.Event | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)
    applies: int = 0

    @asynccontextmanager
    async def session(self, description: str) -> AsyncIterator[Cluster]:
        del description
        yield self

    async def apply(self, manifest: dict[str, Any]) -> bool:
        self.applies += 1
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failing:
            raise RuntimeError("the API server is down")
        key = manifest_key(manifest)
        created = key not in self.objects
        self.objects.add(key)
        return created

    async def delete(self, manifest: dict[str, Any]) -> None:
        self.objects.discard(manifest_key(manifest))

    async def remove_namespace(self, namespace: dict[str, Any]) -> int:
        name = namespace["metadata"]["name"]
        gone = {k for k in self.objects if k[2] == name or k[1:] == ("Namespace", "", name)}
        self.objects -= gone
        return len(gone)


@pytest.fixture
def cluster() -> Cluster:
    return Cluster()


@pytest.fixture
def world(cluster: Cluster) -> TenancyWorld:
    return TenancyWorld(applier=cluster, retry_policy=POLICY, max_attempts=3)


def deletions(world: TenancyWorld) -> DeletionScheduler:
    assert world.components.deletions is not None
    return world.components.deletions


def all_jobs(world: TenancyWorld) -> list[Job]:
    return sorted(world.tables.jobs.jobs.values(), key=lambda job: job.job_id)


async def run(world: TenancyWorld, job: Job) -> Outcome:
    return (await world.runner.run(job.tenant_id, job.job_id)).outcome


async def provisioned(world: TenancyWorld) -> None:
    await world.servicer.CreateTenant(pb.CreateTenantRequest(tenant_id="acme"), None)
    [first] = all_jobs(world)
    assert await run(world, first) is Outcome.SUCCEEDED


async def requested(world: TenancyWorld) -> None:
    await lifecycle.delete_tenant(world.uow, "acme", GRACE)
    world.clock.advance(days=7)
    assert await deletions(world).tick() == 1


async def test_the_tenants_pending_jobs_are_cancelled_and_the_teardown_enqueued_with_the_request(
    world: TenancyWorld, cluster: Cluster
) -> None:
    """A retrying and a queued provisioning are cancelled; one ordered teardown is queued."""
    await provisioned(world)
    await world.servicer.SetQuota(pb.SetQuotaRequest(tenant_id="acme", limits=LIMITS), None)
    cluster.failing = True
    retrying = all_jobs(world)[-1]
    assert await run(world, retrying) is Outcome.RETRY
    await world.servicer.SetQuota(pb.SetQuotaRequest(tenant_id="acme", limits=LIMITS), None)
    await lifecycle.delete_tenant(world.uow, "acme", GRACE)
    world.clock.advance(days=7)
    commits = world.store.commits

    assert await deletions(world).tick() == 1

    assert world.store.commits == commits + 1
    states = [(job.kind, job.state) for job in all_jobs(world)]
    assert states == [
        ("tenant.provision", JobState.SUCCEEDED),
        ("tenant.provision", JobState.CANCELLED),
        ("tenant.provision", JobState.CANCELLED),
        ("tenant.teardown", JobState.QUEUED),
    ]
    teardown = all_jobs(world)[-1]
    assert (teardown.ordered, teardown.max_attempts) == (True, 3)
    event = world.committed[-1]
    assert isinstance(event, ev.TenantDeletionRequested)
    assert list(event.services) == [*tenant_data_services(), CLUSTER_PARTICIPANT]


async def test_the_tenant_is_deleted_only_once_the_namespace_is_gone_and_reported(
    world: TenancyWorld, cluster: Cluster
) -> None:
    """Every data service reported: still deleting; the teardown removes and reports: deleted."""
    await provisioned(world)
    assert len(cluster.objects) == 11
    await requested(world)
    services = (*tenant_data_services(), CLUSTER_PARTICIPANT)
    for service in tenant_data_services():
        tenant = await lifecycle.report_data_deleted(world.uow, "acme", service, 0, services)
    assert tenant.state is TenantState.DELETING
    assert await lifecycle.pending_services(world.uow, tenant, services) == [CLUSTER_PARTICIPANT]

    teardown = all_jobs(world)[-1]
    assert await run(world, teardown) is Outcome.SUCCEEDED

    assert cluster.objects == set()
    async with world.uow("acme") as tx:
        gone = await tx.tenants.get("acme")
        reported = await tx.data_deletions.reported("acme")
    assert gone is not None
    assert gone.state is TenantState.DELETED
    assert CLUSTER_PARTICIPANT in reported
    assert isinstance(world.committed[-1], ev.TenantDeleted)


async def test_a_failing_teardown_is_retried_and_the_tenant_waits() -> None:
    """The namespace step fails: the job retries, and the tenant stays deleting meanwhile."""

    class Refusing(Cluster):
        async def remove_namespace(self, namespace: dict[str, Any]) -> int:
            raise RuntimeError(f"forbidden: cannot delete {namespace['metadata']['name']}")

    refusing = TenancyWorld(applier=Refusing(), retry_policy=POLICY, max_attempts=3)
    await provisioned(refusing)
    await requested(refusing)
    for service in tenant_data_services():
        await lifecycle.report_data_deleted(
            refusing.uow, "acme", service, 0, (*tenant_data_services(), CLUSTER_PARTICIPANT)
        )
    teardown = all_jobs(refusing)[-1]
    assert await run(refusing, teardown) is Outcome.RETRY
    async with refusing.uow("acme") as tx:
        tenant = await tx.tenants.get("acme")
        job = await tx.jobs.get(teardown.job_id)
    assert tenant is not None
    assert tenant.state is TenantState.DELETING
    assert job is not None
    assert "forbidden: cannot delete tenant-acme" in job.last_error


async def test_a_provisioning_still_running_holds_the_teardown_back(
    world: TenancyWorld, cluster: Cluster
) -> None:
    """A provisioning mid-apply is not cancelled: the teardown waits for it, then removes all."""
    await provisioned(world)
    await world.servicer.SetQuota(pb.SetQuotaRequest(tenant_id="acme", limits=LIMITS), None)
    running = all_jobs(world)[-1]
    cluster.gate, cluster.started = asyncio.Event(), asyncio.Event()
    attempt = asyncio.create_task(run(world, running))
    await cluster.started.wait()

    await requested(world)
    teardown = all_jobs(world)[-1]
    assert [job.state for job in all_jobs(world)][1:] == [JobState.RUNNING, JobState.QUEUED]
    assert await run(world, teardown) is Outcome.HELD

    cluster.gate.set()
    assert await attempt is Outcome.SUCCEEDED
    assert await run(world, teardown) is Outcome.SUCCEEDED
    assert cluster.objects == set()


async def test_a_provisioning_run_after_the_deletion_was_requested_applies_nothing(
    world: TenancyWorld, cluster: Cluster
) -> None:
    """Retrying a cancelled provisioning then does nothing: the namespace never comes back."""
    await provisioned(world)
    await world.servicer.SetQuota(pb.SetQuotaRequest(tenant_id="acme", limits=LIMITS), None)
    await requested(world)
    cancelled, teardown = all_jobs(world)[1:]
    assert await run(world, teardown) is Outcome.SUCCEEDED
    applies = cluster.applies

    again = await jobs.retry_job(world.uow, "acme", cancelled.job_id)
    assert await run(world, again) is Outcome.SUCCEEDED

    assert cluster.applies == applies
    assert cluster.objects == set()
