"""The provisioning saga: a tenant's namespace and what bounds, isolates and admits to it.

Run as a durable job ("tenant.provision", ordered per tenant), enqueued in
the transaction that creates the tenant and in each that changes its quota,
so the cluster follows the tenant's latest quota in order. Each step applies
one manifest; when a step fails, the objects this run created are removed in
reverse (compensation) and the attempt fails, to be retried with backoff by
the queue. Objects that existed before the run are left as they were:
applying is idempotent, so the next attempt converges them.

The teardown ("tenant.teardown", ordered after the tenant's provisionings) is
the deletion saga's step for the namespace: enqueued when the tenant's grace
period ends, it removes the namespace and everything in it, and reports
`CLUSTER_PARTICIPANT` done; the tenant is deleted only after that report. A
provisioning that runs once the deletion was requested does nothing, so one
retried (or caught running) then never brings the namespace back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from portico_tenancy.app.job_ports import ApplySession, ClusterApplier
from portico_tenancy.app.lifecycle import activate_tenant, report_data_deleted
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.domain.jobs import Job, JobSpec
from portico_tenancy.domain.provisioning import (
    CLUSTER_PARTICIPANT,
    PROVISION_JOB,
    TEARDOWN_JOB,
    Manifest,
    ProvisioningSpec,
    manifest_key,
    namespace_manifest,
    provisioning_manifests,
)
from portico_tenancy.errors import TenantNotFoundError

log = logging.getLogger(__name__)


def provision_job(tenant_id: str, max_attempts: int) -> JobSpec:
    """The job that (re)provisions the tenant; ordered, so provisionings apply in turn."""
    return JobSpec(tenant_id, PROVISION_JOB, {}, ordered=True, max_attempts=max_attempts)


def teardown_job(tenant_id: str, max_attempts: int) -> JobSpec:
    """The job that removes the tenant's namespace; ordered after its provisionings."""
    return JobSpec(tenant_id, TEARDOWN_JOB, {}, ordered=True, max_attempts=max_attempts)


class Provisioner:
    """The handler of "tenant.provision" jobs."""

    def __init__(
        self, uow: UnitOfWorkFactory, applier: ClusterApplier, spec: ProvisioningSpec
    ) -> None:
        self._uow = uow
        self._applier = applier
        self._spec = spec

    async def __call__(self, job: Job) -> None:
        async with self._uow(job.tenant_id) as tx:
            tenant = await tx.tenants.get(job.tenant_id)
            quota = await tx.quotas.get(job.tenant_id)
        if tenant is None:
            raise TenantNotFoundError(f"tenant {job.tenant_id!r} not found")
        if tenant.deletion_requested_at is not None:
            log.info(
                "provisioning skipped: the tenant's deletion was requested",
                extra={"job_id": job.job_id, "tenant_id": job.tenant_id},
            )
            return
        manifests = provisioning_manifests(tenant.tenant_id, quota, self._spec)
        await apply_in_order(self._applier, manifests, f"provision tenant {tenant.tenant_id}")
        # The first provisioning that succeeds makes the tenant active (tenant.activated).
        await activate_tenant(self._uow, tenant.tenant_id)


class Teardown:
    """The handler of "tenant.teardown" jobs: the namespace goes, then the saga hears it."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        applier: ClusterApplier,
        spec: ProvisioningSpec,
        services: Sequence[str],
    ) -> None:
        if CLUSTER_PARTICIPANT not in services:
            raise ValueError(f"the deletion saga must wait for {CLUSTER_PARTICIPANT!r}")
        self._uow = uow
        self._applier = applier
        self._spec = spec
        self._services = tuple(services)

    async def __call__(self, job: Job) -> None:
        namespace = namespace_manifest(job.tenant_id, self._spec)
        async with self._applier.session(f"remove tenant {job.tenant_id}") as session:
            removed = await session.remove_namespace(namespace)
        # Idempotent: a report repeated by an attempt that died after it changes nothing.
        await report_data_deleted(
            self._uow, job.tenant_id, CLUSTER_PARTICIPANT, removed, self._services
        )


async def apply_in_order(
    applier: ClusterApplier, manifests: Sequence[Manifest], description: str
) -> list[Manifest]:
    """Applies the manifests one by one; on failure removes those it created, in reverse.

    Returns the manifests whose objects this run created.
    """
    created: list[Manifest] = []
    async with applier.session(description) as session:
        try:
            for manifest in manifests:
                if await session.apply(manifest):
                    created.append(manifest)  # noqa: PERF401 - one await per step, in order
        except Exception:
            await _compensate(session, created)
            raise
    return created


async def _compensate(session: ApplySession, created: list[Manifest]) -> None:
    for manifest in reversed(created):
        try:
            await session.delete(manifest)
        except Exception:
            # The remaining compensations still run; the object left behind is
            # named, and the next attempt's apply adopts it.
            log.exception("compensation failed", extra={"object": "/".join(manifest_key(manifest))})
