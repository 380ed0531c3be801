-- The host API catalog of each tenant per Backstage release: versions, deprecations, removals.
CREATE TABLE host_api_catalogs (
    tenant_id          text NOT NULL,
    backstage_release  text NOT NULL,
    -- [{name, version, deprecation, removed, replacement}]
    apis               jsonb NOT NULL CHECK (jsonb_typeof(apis) = 'array'),
    updated_at         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, backstage_release)
);
ALTER TABLE host_api_catalogs ENABLE ROW LEVEL SECURITY;
ALTER TABLE host_api_catalogs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON host_api_catalogs
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');

-- Backstage release manifests as each tenant records them: @backstage/* package -> version.
CREATE TABLE release_manifests (
    tenant_id          text NOT NULL,
    backstage_release  text NOT NULL,
    packages           jsonb NOT NULL CHECK (jsonb_typeof(packages) = 'object'),
    updated_at         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, backstage_release)
);
ALTER TABLE release_manifests ENABLE ROW LEVEL SECURITY;
ALTER TABLE release_manifests FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON release_manifests
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');

-- Each tenant's permission policy: one row, replaced on update.
CREATE TABLE permission_policies (
    tenant_id         text PRIMARY KEY,
    -- [{pattern, decision}]
    rules             jsonb NOT NULL CHECK (jsonb_typeof(rules) = 'array'),
    default_decision  text NOT NULL
                      CHECK (default_decision IN ('allow', 'deny', 'needs_approval')),
    updated_at        timestamptz NOT NULL
);
ALTER TABLE permission_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE permission_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON permission_policies
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');

-- A check now keeps its report per dimension, and what the version declared
-- (consumed/provided APIs, permissions): the baseline of a later upgrade's check.
ALTER TABLE compat_checks
    ADD COLUMN dimensions jsonb NOT NULL DEFAULT '[]'::jsonb
        CHECK (jsonb_typeof(dimensions) = 'array'),
    ADD COLUMN declared jsonb NOT NULL DEFAULT '{}'::jsonb
        CHECK (jsonb_typeof(declared) = 'object');
