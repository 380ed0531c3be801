"""Provisioning end to end in the running service: CreateTenant and SetQuota to a GitOps commit.

Tenancy's real `run` (PostgreSQL, JetStream, the pgqueuer worker) with
`provisioning=gitops` on a real bare git repository: creating a tenant
enqueues its provisioning job in the same transaction; the worker commits the
tenant's manifests; a new quota enqueues an ordered re-provisioning whose
commit carries the new ResourceQuota.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import yaml
from pydantic import SecretStr

from portico.tenancy.v1 import jobs_pb2, jobs_pb2_grpc
from portico.tenancy.v1 import tenancy_pb2 as pb
from portico.tenancy.v1 import tenancy_pb2_grpc as pb_grpc
from portico_embedded.testing.databases import ServiceDatabaseUrl
from portico_embedded.testing.fixtures import unique_tenant
from portico_embedded.testing.services import serving_in_process
from portico_tenancy.bootstrap import SERVICE, run
from portico_tenancy.settings import TenancySettings

pytestmark = pytest.mark.integration


def git(remote: Path, *args: str) -> str:
    return subprocess.run(  # noqa: S603 - a fixed git command on a test's own repository
        ["git", f"--git-dir={remote}", *args],  # noqa: S607 - git from PATH
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    path = tmp_path / "platform.git"
    subprocess.run(  # noqa: S603 - a fixed git command on a test's own folder
        ["git", "init", "--quiet", "--bare", "--initial-branch=main", str(path)],  # noqa: S607
        check=True,
    )
    return path


@pytest.fixture
async def channel(
    service_database_url: ServiceDatabaseUrl, nats_url: str, remote: Path
) -> AsyncIterator[grpc.aio.Channel]:
    settings = TenancySettings.model_validate(
        {
            "database_url": SecretStr(await service_database_url(SERVICE)),
            "nats_url": nats_url,
            "grpc_port": 0,
            "metrics_port": -1,
            "provisioning": "gitops",
            "gitops_repository": str(remote),
            "jobs_poll_seconds": 0.2,
        }
    )
    async with (
        serving_in_process(run, settings) as port,
        grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        yield channel


async def succeeded(channel: grpc.aio.Channel, tenant: str, count: int) -> list[jobs_pb2.Job]:
    stub = jobs_pb2_grpc.JobServiceStub(channel)
    deadline = time.monotonic() + 30
    while True:
        listed = (await stub.ListJobs(jobs_pb2.ListJobsRequest(tenant_id=tenant))).jobs
        if len(listed) == count and all(j.state == jobs_pb2.JOB_STATE_SUCCEEDED for j in listed):
            return list(listed)
        if time.monotonic() > deadline:
            raise AssertionError(f"jobs not done: {listed}")
        await asyncio.sleep(0.1)


async def test_a_new_tenant_and_its_new_quota_reach_the_repository_in_order(
    channel: grpc.aio.Channel, remote: Path
) -> None:
    """Two ordered provisioning jobs, two commits: the namespace, then the raised quota."""
    tenant = unique_tenant()
    stub = pb_grpc.TenancyServiceStub(channel)
    await stub.CreateTenant(pb.CreateTenantRequest(tenant_id=tenant, display_name="Acme"))
    # A job reads the tenant's quota when it runs: let the first run before the quota
    # changes, or it would already commit the new one (and the second find nothing to do).
    await succeeded(channel, tenant, 1)
    await stub.SetQuota(
        pb.SetQuotaRequest(
            tenant_id=tenant,
            limits=pb.Resources(cpu_millicores=6000, memory_mib=12288, storage_mib=51200),
            max_plugins=20,
        )
    )

    jobs = await succeeded(channel, tenant, 2)

    assert [(j.kind, j.ordered, j.attempts) for j in jobs] == [("tenant.provision", True, 1)] * 2
    log = git(remote, "log", "--format=%s", "main").splitlines()
    assert log == [f"provision tenant {tenant}"] * 2
    folder = f"tenants/tenant-{tenant}"
    first = yaml.safe_load(git(remote, "show", f"main~1:{folder}/resourcequota-tenant-quota.yaml"))
    last = yaml.safe_load(git(remote, "show", f"main:{folder}/resourcequota-tenant-quota.yaml"))
    # The first commit has the default quota (none was set yet), the second the new one.
    assert (first["spec"]["hard"]["limits.cpu"], last["spec"]["hard"]["limits.cpu"]) == (
        "2000m",
        "6000m",
    )
    assert last["metadata"]["annotations"] == {"portico.dev/quota-revision": "1"}
