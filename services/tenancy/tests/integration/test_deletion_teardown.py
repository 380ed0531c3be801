"""The deletion saga's namespace step in the running service, against a stand-in API server.

Tenancy's real `run` (PostgreSQL, JetStream, the pgqueuer worker) with
`provisioning=cluster` on `FakeKubeApiServer`: the grace period's end cancels
the tenant's pending jobs (a dead one and one queued behind it) and enqueues
the teardown; the namespace terminates for a while (the first attempt finds
it still there and fails, the retry finds it gone) and the teardown reports;
the tenant, deleting, then waits for the data services only, and the last
report deletes it. (That the tenant waits for the teardown whatever the order
of the reports is shown deterministically in tests/unit/test_teardown.py.)
Calls naming a deleting tenant are refused in this unauthenticated mode, so
the test reads jobs with ListJobs over all tenants and tenants with
ListTenants.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
import pytest
from pydantic import SecretStr

from portico.tenancy.v1 import jobs_pb2 as jpb
from portico.tenancy.v1 import jobs_pb2_grpc as jpb_grpc
from portico.tenancy.v1 import lifecycle_pb2 as lpb
from portico.tenancy.v1 import lifecycle_pb2_grpc as lpb_grpc
from portico.tenancy.v1 import tenancy_pb2 as pb
from portico.tenancy.v1 import tenancy_pb2_grpc as pb_grpc
from portico_common.events.topology import tenant_data_services
from portico_embedded.kube import FakeKubeApiServer
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique_tenant
from portico_embedded.testing.services import serving_in_process
from portico_tenancy.bootstrap import SERVICE, run
from portico_tenancy.settings import TenancySettings

pytestmark = pytest.mark.integration

T = TypeVar("T")
LIMITS = pb.Resources(cpu_millicores=4000, memory_mib=8192, storage_mib=20480)


async def until(probe: Callable[[], Awaitable[T | None]], what: str, wait: float = 30) -> T:
    deadline = time.monotonic() + wait
    while True:
        found = await probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {wait:g} s: {what}")
        await asyncio.sleep(0.05)


async def test_a_deleted_tenants_jobs_are_cancelled_and_its_namespace_goes_before_it_is_deleted(
    service_database_url: ServiceDatabaseUrl, nats_url: str
) -> None:
    """Pending jobs cancelled; deleted only after the namespace is gone and the job reported."""
    tenant = unique_tenant()
    namespace = f"tenant-{tenant}"
    with FakeKubeApiServer(
        field_manager="portico-tenancy", namespace_terminating_gets=1
    ).running() as api:
        settings = TenancySettings.model_validate(
            {
                "database_url": SecretStr(await service_database_url(SERVICE)),
                "nats_url": nats_url,
                "grpc_port": 0,
                "metrics_port": -1,
                "provisioning": "cluster",
                "k8s_api_server": api.url,
                "jobs_poll_seconds": 0.1,
                "jobs_backoff_seconds": 0.05,
                # Two attempts: a failing provisioning is dead at once, and the
                # teardown's second attempt finds the namespace gone.
                "jobs_max_attempts": 2,
                "deletion_grace_seconds": 1,
                "deletion_poll_seconds": 0.2,
            }
        )
        async with (
            serving_in_process(run, settings) as port,
            grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
        ):
            tenancy = pb_grpc.TenancyServiceStub(channel)
            lifecycle = lpb_grpc.TenantLifecycleServiceStub(channel)
            job_api = jpb_grpc.JobServiceStub(channel)

            async def jobs() -> list[jpb.Job]:
                reply = await job_api.ListJobs(jpb.ListJobsRequest(page_size=500))
                return sorted(
                    (job for job in reply.jobs if job.tenant_id == tenant),
                    key=lambda job: job.job_id,
                )

            async def state_of(job_id: int, state: int) -> jpb.Job | None:
                found = [job for job in await jobs() if job.job_id == job_id]
                return found[0] if found and found[0].state == state else None

            async def tenant_in(state: int) -> pb.Tenant | None:
                reply = await lifecycle.ListTenants(
                    lpb.ListTenantsRequest(state=state, page_size=500)
                )
                found = [t for t in reply.tenants if t.tenant_id == tenant]
                return found[0] if found else None

            await tenancy.CreateTenant(pb.CreateTenantRequest(tenant_id=tenant))
            await until(lambda: tenant_in(pb.TENANT_STATE_ACTIVE), "the tenant provisioned")
            # A re-provisioning that dies, and one queued behind it.
            api.fail_kinds = {"ResourceQuota"}
            await tenancy.SetQuota(pb.SetQuotaRequest(tenant_id=tenant, limits=LIMITS))
            dead = (await jobs())[-1]
            await until(lambda: state_of(dead.job_id, jpb.JOB_STATE_DEAD), "the job dead")
            await tenancy.SetQuota(pb.SetQuotaRequest(tenant_id=tenant, limits=LIMITS))
            queued = (await jobs())[-1]
            assert queued.state == jpb.JOB_STATE_QUEUED

            await lifecycle.DeleteTenant(lpb.DeleteTenantRequest(tenant_id=tenant))
            teardown = await until(
                lambda: _teardown(jobs), "the teardown enqueued when the grace period ended"
            )
            cancelled = {job.job_id: job.state for job in await jobs()}
            assert (cancelled[dead.job_id], cancelled[queued.job_id]) == (
                jpb.JOB_STATE_CANCELLED,
                jpb.JOB_STATE_CANCELLED,
            )
            done = await until(
                lambda: state_of(teardown.job_id, jpb.JOB_STATE_SUCCEEDED), "the teardown done"
            )
            # Its first attempt found the namespace terminating; the second found it gone.
            assert (done.attempts, done.kind) == (2, "tenant.teardown")
            assert f"namespace {namespace} is terminating" in done.last_error
            waiting = await until(lambda: tenant_in(pb.TENANT_STATE_DELETING), "deleting")
            assert list(waiting.pending_services) == list(tenant_data_services())
            for service in tenant_data_services():
                reply = await lifecycle.ReportTenantDataDeleted(
                    lpb.ReportTenantDataDeletedRequest(tenant_id=tenant, service=service)
                )
            deleted = reply.tenant
            assert await tenant_in(pb.TENANT_STATE_DELETED) is not None

    assert deleted.state == pb.TENANT_STATE_DELETED
    assert list(deleted.pending_services) == []
    assert api.violations == []
    assert not [key for key in api.objects if namespace in (key[2], key[3])]
    deletes = [r.path for r in api.requests if r.method == "DELETE"]
    assert deletes == [f"/api/v1/namespaces/{namespace}"]


async def _teardown(jobs: Callable[[], Awaitable[list[jpb.Job]]]) -> jpb.Job | None:
    found = [job for job in await jobs() if job.kind == "tenant.teardown"]
    return found[0] if found else None
