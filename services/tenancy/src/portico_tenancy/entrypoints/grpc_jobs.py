"""gRPC entrypoint of tenancy's jobs: map the request, call the use case, map back."""

from __future__ import annotations

from portico.tenancy.v1 import jobs_pb2 as pb
from portico.tenancy.v1 import jobs_pb2_grpc as pb_grpc
from portico_common.grpc.interceptor import Context
from portico_common.grpc.tokens import current_claims
from portico_common.tenants import ALL_TENANTS
from portico_common.timestamps import optional_timestamp, to_timestamp
from portico_tenancy.app import jobs
from portico_tenancy.app.ports import UnitOfWorkFactory
from portico_tenancy.domain.jobs import Job, JobState

_STATES = {
    JobState.QUEUED: pb.JOB_STATE_QUEUED,
    JobState.RUNNING: pb.JOB_STATE_RUNNING,
    JobState.RETRYING: pb.JOB_STATE_RETRYING,
    JobState.SUCCEEDED: pb.JOB_STATE_SUCCEEDED,
    JobState.DEAD: pb.JOB_STATE_DEAD,
    JobState.CANCELLED: pb.JOB_STATE_CANCELLED,
}
_FROM_PROTO = {value: state for state, value in _STATES.items()}


def job_to_proto(job: Job) -> pb.Job:
    return pb.Job(
        job_id=job.job_id,
        tenant_id=job.tenant_id,
        kind=job.kind,
        state=_STATES[job.state],
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        last_error=job.last_error,
        ordered=job.ordered,
        created_at=to_timestamp(job.created_at),
        updated_at=to_timestamp(job.updated_at),
        run_after=to_timestamp(job.run_after),
        finished_at=optional_timestamp(job.finished_at),
    )


def listed_tenant(requested: str) -> str:
    """Whose jobs a ListJobs without a tenant lists: the token's tenant, all for a platform."""
    if requested:
        return requested
    claims = current_claims.get()
    # No claims: the unchecked mode of tests, where every caller may do everything.
    return ALL_TENANTS if claims is None else claims.tenant_id


class JobServicer(pb_grpc.JobServiceServicer):
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def ListJobs(self, request: pb.ListJobsRequest, context: Context) -> pb.ListJobsResponse:
        found, token = await jobs.list_jobs(
            self._uow,
            listed_tenant(request.tenant_id),
            state=_FROM_PROTO.get(request.state),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListJobsResponse(jobs=[job_to_proto(j) for j in found], next_page_token=token)

    async def GetJob(self, request: pb.GetJobRequest, context: Context) -> pb.GetJobResponse:
        job = await jobs.get_job(self._uow, request.tenant_id, request.job_id)
        return pb.GetJobResponse(job=job_to_proto(job))

    async def RetryJob(self, request: pb.RetryJobRequest, context: Context) -> pb.RetryJobResponse:
        job = await jobs.retry_job(self._uow, request.tenant_id, request.job_id)
        return pb.RetryJobResponse(job=job_to_proto(job))

    async def CancelJob(
        self, request: pb.CancelJobRequest, context: Context
    ) -> pb.CancelJobResponse:
        job = await jobs.cancel_job(self._uow, request.tenant_id, request.job_id)
        return pb.CancelJobResponse(job=job_to_proto(job))
