"""Running one attempt of a job: what a worker does with the id the queue hands it.

Each step commits on its own: "running" (one more attempt) before the work,
then "succeeded", "retrying" or "dead" after it, so the job's row says where
it is even when the worker dies in between. A job found "running" was left so
by a worker that died: it runs again as a new attempt. The caller (the queue
adapter) turns the result into the queue's terms: a delay before the next
attempt, a dead job parked with its error, or done.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from portico_tenancy.app.job_ports import JobHandler
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.domain.jobs import RetryPolicy

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    RETRY = "retry"
    DEAD = "dead"
    # Another of the tenant's ordered jobs must finish first.
    HELD = "held"
    # Nothing to run: the job is done, cancelled, or gone.
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class RunResult:
    outcome: Outcome
    delay: timedelta = timedelta(0)
    error: str = ""


class JobRunner:
    """Runs attempts of jobs with the handler registered for their kind."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        handlers: Mapping[str, JobHandler],
        policy: RetryPolicy,
        unit: Callable[[], float] = random.random,
    ) -> None:
        self._uow = uow
        self._handlers = dict(handlers)
        self._policy = policy
        # Jitter only, never security: the default is the stdlib's generator.
        self._unit = unit

    @property
    def kinds(self) -> list[str]:
        return sorted(self._handlers)

    async def run(self, tenant_id: str, job_id: int) -> RunResult:
        async with self._uow(tenant_id) as tx:
            job = await tx.jobs.get(job_id, lock=True)
            if job is None or not job.runnable:
                return RunResult(Outcome.SKIPPED)
            if job.ordered and await tx.jobs.holds_back(job):
                return RunResult(Outcome.HELD, self._policy.order_wait)
            job = job.started(tx.clock.now())
            await tx.jobs.save(job)
        try:
            await self._handler(job.kind)(job)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning(
                "job attempt failed",
                extra={"job_id": job.job_id, "tenant_id": tenant_id, "attempt": job.attempts},
                exc_info=exc,
            )
            return await self._failed(tenant_id, job_id, error)
        async with self._uow(tenant_id) as tx:
            current = await tx.jobs.get(job_id, lock=True)
            if current is not None and current.runnable:
                await tx.jobs.save(current.succeeded(tx.clock.now()))
        return RunResult(Outcome.SUCCEEDED)

    def _handler(self, kind: str) -> JobHandler:
        handler = self._handlers.get(kind)
        if handler is None:
            raise LookupError(f"no handler for jobs of kind {kind!r}")
        return handler

    async def _failed(self, tenant_id: str, job_id: int, error: str) -> RunResult:
        async with self._uow(tenant_id) as tx:
            current = await tx.jobs.get(job_id, lock=True)
            if current is None or not current.runnable:
                return RunResult(Outcome.SKIPPED, error=error)
            delay = self._policy.delay(current.attempts, self._unit())
            failed = current.failed(error, tx.clock.now(), delay)
            await tx.jobs.save(failed)
        if failed.finished_at is not None:
            return RunResult(Outcome.DEAD, error=error)
        return RunResult(Outcome.RETRY, delay, error)
