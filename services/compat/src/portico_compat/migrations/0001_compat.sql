-- The versions each tenant's portal host runs: one row per tenant, replaced on update.
CREATE TABLE host_profiles (
    tenant_id          text PRIMARY KEY,
    backstage_version  text NOT NULL,
    node_version       text NOT NULL,
    -- package name -> exact installed version
    packages           jsonb NOT NULL DEFAULT '{}'::jsonb
                       CHECK (jsonb_typeof(packages) = 'object'),
    updated_at         timestamptz NOT NULL
);
ALTER TABLE host_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE host_profiles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON host_profiles
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');

-- Every check ever made, with the verdict and the findings behind it.
CREATE TABLE compat_checks (
    check_id    uuid PRIMARY KEY,
    tenant_id   text NOT NULL,
    plugin      text NOT NULL,
    version     text NOT NULL,
    compatible  boolean NOT NULL,
    findings    jsonb NOT NULL CHECK (jsonb_typeof(findings) = 'array'),
    created_at  timestamptz NOT NULL
);
CREATE INDEX compat_checks_by_plugin ON compat_checks (tenant_id, plugin, version, created_at);
ALTER TABLE compat_checks ENABLE ROW LEVEL SECURITY;
ALTER TABLE compat_checks FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON compat_checks
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');
