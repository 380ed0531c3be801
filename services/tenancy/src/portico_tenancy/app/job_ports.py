"""What the job use cases and the provisioning saga need from the outside world."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from portico_tenancy.domain.jobs import Job, JobState
from portico_tenancy.domain.provisioning import Manifest


@dataclass(frozen=True, slots=True)
class JobPage:
    jobs: list[Job]
    # The last job id of this page when there may be more; None on the last page.
    next_before: int | None


class JobRepository(Protocol):
    async def add(self, job: Job) -> Job:
        """Stores a new job and queues it for a worker, in the caller's transaction.

        Returns the job with its id. The worker sees it only once the transaction commits.
        """

    async def get(self, job_id: int, *, lock: bool = False) -> Job | None:
        """The job (None if the transaction's tenant cannot see it); `lock` holds it till commit."""

    async def save(self, job: Job) -> None:
        """Stores the job's new state."""

    async def requeue(self, job: Job) -> None:
        """Hands a job that was dead or cancelled back to the queue (after `save`)."""

    async def holds_back(self, job: Job) -> bool:
        """True while an earlier ordered job of the same tenant is unfinished."""

    async def page(self, state: JobState | None, before: int | None, limit: int) -> JobPage:
        """The visible jobs, newest first, with ids below `before` (all when None)."""

    async def cancellable(self, tenant_id: str) -> list[Job]:
        """The tenant's queued, retrying and dead jobs, oldest first, locked until commit."""


class ApplySession(Protocol):
    """One saga's changes to a cluster (or to the repository a GitOps tool syncs)."""

    async def apply(self, manifest: Manifest) -> bool:
        """Creates or updates the object; True when it did not exist before."""

    async def delete(self, manifest: Manifest) -> None:
        """Removes the object; nothing happens if it is already gone."""

    async def remove_namespace(self, namespace: Manifest) -> int:
        """Removes the namespace and everything in it; how many objects (or files) it removed.

        Done only when the namespace is gone: a cluster still terminating it raises
        NamespaceTerminatingError (the job's next attempt looks again). Nothing
        happens if it is already gone.
        """


class ClusterApplier(Protocol):
    """Where a tenant's manifests go: a cluster's API server, or a GitOps repository.

    `session` yields an ApplySession whose changes take effect as they are
    applied (a cluster), or all at once when the block ends without an error
    (a repository: one commit); an error discards what a repository session
    had not committed.
    """

    def session(self, description: str) -> AbstractAsyncContextManager[ApplySession]: ...


# The work of one kind of job; raising fails the attempt.
JobHandler = Callable[[Job], Awaitable[None]]
