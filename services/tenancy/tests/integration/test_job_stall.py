"""Stall recovery: a worker killed (-9) in the middle of a provisioning job.

Two `python -m portico_tenancy` processes in turn, provisioning to a stand-in
Kubernetes API server. The first is killed while its apply of the namespace
is held at the server; its job's heartbeat stops, and the second process
picks the job up again once the heartbeat is stale and runs it to the end:
one success, every later object applied exactly once.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg
import grpc
import pytest

from portico.tenancy.v1 import jobs_pb2, jobs_pb2_grpc
from portico.tenancy.v1 import tenancy_pb2 as pb
from portico.tenancy.v1 import tenancy_pb2_grpc as pb_grpc
from portico_embedded.kube import FakeKubeApiServer
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique_tenant
from portico_embedded.testing.services import ServiceProcess, infra_env

pytestmark = pytest.mark.integration

HEALTH = "portico.tenancy.v1.TenancyService"


async def wait_for_job(target: str, tenant: str, wait: float = 60.0) -> jobs_pb2.Job:
    """The tenant's provisioning job once it has succeeded (or the test fails)."""
    deadline = time.monotonic() + wait
    async with grpc.aio.insecure_channel(target) as channel:
        stub = jobs_pb2_grpc.JobServiceStub(channel)
        while True:
            [job] = (await stub.ListJobs(jobs_pb2.ListJobsRequest(tenant_id=tenant))).jobs
            if job.state == jobs_pb2.JOB_STATE_SUCCEEDED:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"the job never succeeded: {job}")
            await asyncio.sleep(0.2)


async def test_a_job_whose_worker_is_killed_is_picked_again_and_completes_once(
    service_database_url: ServiceDatabaseUrl, nats_url: str, tmp_path: Path
) -> None:
    """kill -9 mid-apply; the next worker re-picks the job after its heartbeat goes stale.

    The queue logs the job picked twice (each worker) and successful once.
    """
    url = await service_database_url("tenancy")
    tenant = unique_tenant()
    api = FakeKubeApiServer(field_manager="portico-tenancy", hold_first_apply=True)
    with api.running():
        env = infra_env(
            url,
            nats_url,
            provisioning="cluster",
            k8s_api_server=api.url,
            jobs_heartbeat_seconds="2",
            jobs_poll_seconds="0.5",
        )
        first = ServiceProcess("portico_tenancy", env, tmp_path / "first", HEALTH).start()
        try:
            async with grpc.aio.insecure_channel(first.target) as channel:
                await pb_grpc.TenancyServiceStub(channel).CreateTenant(
                    pb.CreateTenantRequest(tenant_id=tenant, display_name="Acme"), timeout=10
                )
            assert await asyncio.to_thread(api.held.wait, 30), first.output()
        finally:
            first.kill()
        api.release.set()  # the held apply answers a client that is gone

        second = ServiceProcess("portico_tenancy", env, tmp_path / "second", HEALTH).start()
        try:
            job = await wait_for_job(second.target, tenant)
        finally:
            second.assert_stopped_cleanly()

    assert (job.attempts, job.last_error) == (2, "")
    assert api.violations == []
    applied = [r.kind for r in api.applied()]
    # The namespace twice (the killed attempt's, then the second's); all else once.
    assert applied.count("Namespace") == 2
    assert len(applied) == 12
    assert len(api.objects) == 11
    conn = await asyncpg.connect(url, server_settings={"search_path": "tenancy"})
    try:
        logged = await conn.fetch(
            """SELECT l.status::text AS status FROM pgqueuer_log l
                WHERE l.job_id = (SELECT max(job_id) FROM pgqueuer_log) ORDER BY l.id"""
        )
    finally:
        await conn.close()
    assert [r["status"] for r in logged] == ["queued", "picked", "picked", "successful"]
