"""Job use cases: enqueue with a change, list, read, retry and cancel a tenant's jobs.

A job is enqueued inside the unit of work of the change that causes it (the
tenant row and its provisioning job commit together, or neither does). Who
may read or steer which tenant's jobs is the interceptor's decision (jobs.read,
jobs.manage, the token's tenant); here every call is scoped to one tenant, or
to all of them for a platform caller, by the transaction it opens.
"""

from __future__ import annotations

from portico_common.tenants import ALL_TENANTS, require_tenant_id
from portico_tenancy.app.job_ports import JobPage
from portico_tenancy.app.ports import TenancyUnitOfWork, UnitOfWorkFactory
from portico_tenancy.domain.jobs import Job, JobSpec, JobState
from portico_tenancy.errors import InvalidJobRequestError, JobNotFoundError

DEFAULT_PAGE = 50
MAX_PAGE = 500


async def enqueue(tx: TenancyUnitOfWork, spec: JobSpec) -> Job:
    """Stores and queues a job in the caller's transaction."""
    return await tx.jobs.add(Job.new(spec, tx.clock.now()))


async def list_jobs(
    uow: UnitOfWorkFactory,
    tenant_id: str,
    *,
    state: JobState | None = None,
    page_size: int = 0,
    page_token: str = "",
) -> tuple[list[Job], str]:
    """A page of the tenant's jobs (ALL_TENANTS: everyone's), newest first, and the next token."""
    if tenant_id != ALL_TENANTS:
        require_tenant_id(tenant_id)
    limit = min(page_size or DEFAULT_PAGE, MAX_PAGE)
    before = _before(page_token)
    async with uow(tenant_id) as tx:
        page: JobPage = await tx.jobs.page(state, before, limit)
    token = "" if page.next_before is None else str(page.next_before)
    return page.jobs, token


async def get_job(uow: UnitOfWorkFactory, tenant_id: str, job_id: int) -> Job:
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        return await _visible(tx, tenant_id, job_id)


async def retry_job(uow: UnitOfWorkFactory, tenant_id: str, job_id: int) -> Job:
    """Queues a dead or cancelled job again with all its attempts."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        job = (await _visible(tx, tenant_id, job_id, lock=True)).retried(tx.clock.now())
        await tx.jobs.save(job)
        await tx.jobs.requeue(job)
    return job


async def cancel_job(uow: UnitOfWorkFactory, tenant_id: str, job_id: int) -> Job:
    """Cancels a job that is not running and not done; a worker that picks it drops it."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        job = (await _visible(tx, tenant_id, job_id, lock=True)).cancelled(tx.clock.now())
        await tx.jobs.save(job)
    return job


async def _visible(
    tx: TenancyUnitOfWork, tenant_id: str, job_id: int, *, lock: bool = False
) -> Job:
    if job_id <= 0:
        raise InvalidJobRequestError("job_id is required")
    job = await tx.jobs.get(job_id, lock=lock)
    # Row-level security hides other tenants' jobs; the check says so in the domain too.
    if job is None or job.tenant_id != tenant_id:
        raise JobNotFoundError(f"tenant {tenant_id!r} has no job {job_id}")
    return job


def _before(page_token: str) -> int | None:
    if not page_token:
        return None
    if not page_token.isdigit() or int(page_token) <= 0:
        raise InvalidJobRequestError("page_token is not one this service gave out")
    return int(page_token)
