-- Tenancy's durable jobs: what the API lists, retries and cancels. The queue
-- (0020) carries each job's id to a worker; this row says what the job is,
-- where it is (state, attempts, last error) and whose it is.
CREATE TABLE jobs (
    job_id        bigserial PRIMARY KEY,
    tenant_id     text NOT NULL REFERENCES tenants (tenant_id),
    kind          text NOT NULL,
    payload       jsonb NOT NULL DEFAULT '{}',
    -- An ordered job runs only after the tenant's earlier ordered jobs finished.
    ordered       boolean NOT NULL,
    state         text NOT NULL
                  CHECK (state IN ('queued', 'running', 'retrying', 'succeeded', 'dead', 'cancelled')),
    attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts  integer NOT NULL CHECK (max_attempts > 0),
    last_error    text NOT NULL DEFAULT '',
    -- The queue's row that runs it (pgqueuer's id).
    queue_id      bigint,
    run_after     timestamptz NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    finished_at   timestamptz
);
CREATE INDEX jobs_by_tenant ON jobs (tenant_id, job_id DESC);
-- What holds back a tenant's next ordered job.
CREATE INDEX jobs_unfinished_ordered ON jobs (tenant_id, job_id)
    WHERE ordered AND state IN ('queued', 'running', 'retrying', 'dead');
SELECT enable_tenant_isolation('jobs');
