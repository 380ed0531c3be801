"""The worker: pgqueuer picks queued jobs and hands each id to the JobRunner.

pgqueuer does the queue's hard parts: picking with SKIP LOCKED across
workers, waking on NOTIFY, a heartbeat on each running job and re-picking a
job whose heartbeat stopped (its worker died: stall recovery), and
re-queueing a job with a delay (`RetryRequested`). The runner's result maps
onto it: a retry or an ordered job held back waits its delay in the queue; a
dead job is parked by pgqueuer ("failed", with the error's traceback in its
log) until RetryJob hands it back.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from pgqueuer import QueueManager
from pgqueuer.adapters.drivers.asyncpg import AsyncpgPoolDriver
from pgqueuer.domain.errors import RetryRequested
from pgqueuer.domain.models import Job as QueueJob
from pgqueuer.domain.types import Channel

from portico_tenancy.adapters.pg_jobs import CHANNEL, ENTRYPOINT, queries
from portico_tenancy.app.worker import JobRunner, Outcome, RunResult
from portico_tenancy.errors import JobFailedError

# A held job looks again after its runner's wait, doubled with every look up to this.
MAX_HELD_WAIT = timedelta(seconds=30)


@dataclass(frozen=True)
class WorkerSettings:
    # Jobs this process runs at once.
    concurrency: int = 4
    # A running job's heartbeat is written every half of this; a job whose
    # heartbeat is older is taken to be orphaned and picked again.
    heartbeat: timedelta = timedelta(seconds=30)
    # The longest the worker sleeps without a NOTIFY before it looks at the queue.
    poll: timedelta = timedelta(seconds=5)


async def execute(runner: JobRunner, job: QueueJob) -> None:
    """Runs one queue job's attempt; raises what pgqueuer turns into a retry or a dead job."""
    ref = json.loads(job.payload or b"{}")
    result = await runner.run(str(ref["tenant_id"]), int(ref["job_id"]))
    raise_for(result, job.attempts)


def raise_for(result: RunResult, queue_attempts: int) -> None:
    """The pgqueuer-side of a run's result: return (done), RetryRequested, or JobFailedError."""
    match result.outcome:
        case Outcome.RETRY:
            raise RetryRequested(delay=result.delay, reason=result.error)
        case Outcome.HELD:
            wait = min(result.delay * 2 ** min(queue_attempts, 16), MAX_HELD_WAIT)
            raise RetryRequested(delay=wait, reason="an earlier job of the tenant is unfinished")
        case Outcome.DEAD:
            raise JobFailedError(result.error)
        case Outcome.SUCCEEDED | Outcome.SKIPPED:
            return


class QueueWorker:
    """A background loop of the service: runs jobs until `stop` is set."""

    def __init__(self, pool: asyncpg.Pool, runner: JobRunner, settings: WorkerSettings) -> None:
        self._pool = pool
        self._runner = runner
        self._settings = settings

    async def __call__(self, stop: asyncio.Event) -> None:
        manager = QueueManager(queries(AsyncpgPoolDriver(self._pool)), channel=Channel(CHANNEL))
        runner = self._runner

        @manager.entrypoint(ENTRYPOINT, on_failure="hold", accepts_context=False)
        async def run_job(job: QueueJob) -> None:
            await execute(runner, job)

        batch = max(1, self._settings.concurrency // 2)
        running = asyncio.create_task(
            manager.run(
                dequeue_timeout=self._settings.poll,
                batch_size=batch,
                max_concurrent_tasks=max(self._settings.concurrency, 2 * batch),
                heartbeat_timeout=self._settings.heartbeat,
            ),
            name="job-queue",
        )
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            manager.shutdown.set()
            stopping.cancel()
            await running
