-- Publisher keys a tenant trusts, and every verification decision taken.
-- Both are tenant rows under FORCE row-level security (the kernel's policy).

CREATE TABLE publisher_keys (
    tenant_id       text NOT NULL,
    key_id          text NOT NULL,
    publisher       text NOT NULL,
    algorithm       text NOT NULL,
    public_key_pem  text NOT NULL,
    created_at      timestamptz NOT NULL,
    -- A key id names one key per tenant, forever: ids are never reused.
    PRIMARY KEY (tenant_id, key_id)
);
ALTER TABLE publisher_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE publisher_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON publisher_keys
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');

CREATE TABLE verifications (
    verification_id  uuid PRIMARY KEY,
    tenant_id        text NOT NULL,
    plugin           text NOT NULL,
    version          text NOT NULL,
    integrity        text NOT NULL,
    verdict          text NOT NULL CHECK (verdict IN ('VERIFIED', 'REJECTED')),
    -- [{"name": ..., "passed": ..., "detail": ...}] in the order they ran.
    checks           jsonb NOT NULL CHECK (jsonb_typeof(checks) = 'array'),
    key_id           text NOT NULL,
    created_at       timestamptz NOT NULL
);
-- "What was decided about this plugin version, latest first" for a tenant.
CREATE INDEX verifications_by_plugin
    ON verifications (tenant_id, plugin, version, created_at DESC);
ALTER TABLE verifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE verifications FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON verifications
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');
