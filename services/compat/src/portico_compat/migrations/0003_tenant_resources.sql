-- compat's projection of tenancy's quota and usage events (tenant.quota.updated,
-- tenant.usage.updated): one row per tenant each, replaced only by a higher revision.
CREATE TABLE tenant_quotas (
    tenant_id       text PRIMARY KEY,
    cpu_millicores  bigint NOT NULL CHECK (cpu_millicores >= 0),
    memory_mib      bigint NOT NULL CHECK (memory_mib >= 0),
    storage_mib     bigint NOT NULL CHECK (storage_mib >= 0),
    max_plugins     bigint NOT NULL CHECK (max_plugins >= 0),
    revision        bigint NOT NULL,
    -- When tenancy made the change (the event's time), not when it arrived here.
    updated_at      timestamptz NOT NULL
);
ALTER TABLE tenant_quotas ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_quotas FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_quotas
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');

CREATE TABLE tenant_usage (
    tenant_id       text PRIMARY KEY,
    cpu_millicores  bigint NOT NULL CHECK (cpu_millicores >= 0),
    memory_mib      bigint NOT NULL CHECK (memory_mib >= 0),
    storage_mib     bigint NOT NULL CHECK (storage_mib >= 0),
    plugins         bigint NOT NULL CHECK (plugins >= 0),
    revision        bigint NOT NULL,
    updated_at      timestamptz NOT NULL
);
ALTER TABLE tenant_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant_usage FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_usage
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');
