-- Secure install: each tenant's install policy, every install request with its
-- approval workflow and history, and the append-only, hash-chained audit trail.
-- All tenant rows under FORCE row-level security (the kernel's policy).

CREATE TABLE install_policies (
    tenant_id   text PRIMARY KEY,
    -- InstallPolicy as JSON (domain.policy.policy_to_json).
    policy      jsonb NOT NULL CHECK (jsonb_typeof(policy) = 'object'),
    updated_at  timestamptz NOT NULL
);
ALTER TABLE install_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE install_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON install_policies
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');

CREATE TABLE install_requests (
    request_id  uuid PRIMARY KEY,
    tenant_id   text NOT NULL,
    plugin      text NOT NULL,
    version     text NOT NULL,
    status      text NOT NULL
        CHECK (status IN ('REJECTED', 'PENDING_APPROVAL', 'APPROVED', 'EXPIRED')),
    -- The approval deadline while PENDING_APPROVAL, for the scheduler's sweep.
    deadline    timestamptz,
    -- The rest of the aggregate (adapters.install_codec).
    body        jsonb NOT NULL CHECK (jsonb_typeof(body) = 'object'),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX install_requests_due
    ON install_requests (deadline) WHERE status = 'PENDING_APPROVAL';
CREATE INDEX install_requests_by_plugin
    ON install_requests (tenant_id, plugin, version, created_at DESC);
ALTER TABLE install_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE install_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON install_requests
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');

CREATE TABLE audit_records (
    tenant_id        text NOT NULL,
    sequence         bigint NOT NULL CHECK (sequence >= 1),
    at               timestamptz NOT NULL,
    actor            text NOT NULL,
    action           text NOT NULL,
    subject          text NOT NULL,
    reason           text NOT NULL,
    evidence_digest  text NOT NULL,
    prev_hash        text NOT NULL,
    hash             text NOT NULL,
    PRIMARY KEY (tenant_id, sequence),
    UNIQUE (tenant_id, hash)
);
CREATE INDEX audit_records_by_subject ON audit_records (tenant_id, subject, sequence);
ALTER TABLE audit_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_records FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_records
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');

-- Append-only for everyone, the table owner included: the kernel re-grants
-- UPDATE and DELETE on every table after each migration, so privileges alone
-- would not hold; these triggers do, whatever the role.
CREATE FUNCTION audit_records_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_records_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
CREATE TRIGGER audit_records_no_truncate
    BEFORE TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only();
