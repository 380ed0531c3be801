"""In-memory job repository: the fake of `PgJobRepository`, with the same promises.

Jobs live in the unit of work's staged tables, so a job enqueued in a
transaction that fails is gone with it; `queue` lists the job ids handed to
the queue, in order, as the queue adapter would receive them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from portico_common.memory_uow import TenantScope
from portico_tenancy.app.job_ports import JobPage
from portico_tenancy.domain.jobs import CANCELLABLE, HOLDS_LATER_JOBS, Job, JobState
from portico_tenancy.domain.tenant import Tenant


@dataclass
class MemoryJobTables:
    jobs: dict[int, Job] = field(default_factory=dict)
    queue: list[int] = field(default_factory=list)
    next_id: int = 1


class MemoryJobRepository:
    def __init__(
        self, tables: MemoryJobTables, tenants: dict[str, Tenant], scope: TenantScope
    ) -> None:
        self._tables = tables
        self._tenants = tenants
        self._scope = scope

    async def add(self, job: Job) -> Job:
        self._scope.check_write(job.tenant_id)
        if job.tenant_id not in self._tenants:
            raise LookupError(f"no tenant {job.tenant_id!r} (foreign key)")
        stored = replace(job, job_id=self._tables.next_id)
        self._tables.next_id += 1
        self._tables.jobs[stored.job_id] = stored
        self._tables.queue.append(stored.job_id)
        return stored

    async def get(self, job_id: int, *, lock: bool = False) -> Job | None:
        # Units of work run one at a time, so finding the row is locking it.
        del lock
        job = self._tables.jobs.get(job_id)
        return job if job is not None and self._scope.sees(job.tenant_id) else None

    async def save(self, job: Job) -> None:
        self._scope.check_write(job.tenant_id)
        if job.job_id not in self._tables.jobs:
            raise LookupError(f"no job {job.job_id}")
        self._tables.jobs[job.job_id] = job

    async def requeue(self, job: Job) -> None:
        self._scope.check_write(job.tenant_id)
        if job.job_id not in self._tables.queue:
            self._tables.queue.append(job.job_id)

    async def holds_back(self, job: Job) -> bool:
        return any(
            other.tenant_id == job.tenant_id
            and other.ordered
            and other.job_id < job.job_id
            and other.state in HOLDS_LATER_JOBS
            for other in self._tables.jobs.values()
        )

    async def page(self, state: JobState | None, before: int | None, limit: int) -> JobPage:
        visible = sorted(
            (
                job
                for job in self._tables.jobs.values()
                if self._scope.sees(job.tenant_id)
                and (state is None or job.state is state)
                and (before is None or job.job_id < before)
            ),
            key=lambda job: job.job_id,
            reverse=True,
        )
        jobs = visible[:limit]
        more = len(visible) > limit
        return JobPage(jobs, jobs[-1].job_id if more and jobs else None)

    async def cancellable(self, tenant_id: str) -> list[Job]:
        return sorted(
            (
                job
                for job in self._tables.jobs.values()
                if job.tenant_id == tenant_id
                and self._scope.sees(job.tenant_id)
                and job.state in CANCELLABLE
            ),
            key=lambda job: job.job_id,
        )
