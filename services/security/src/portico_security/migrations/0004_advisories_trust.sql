-- Advisories (platform data) and trust scores (tenant data).
--
-- Advisories are OSV documents about public npm packages: the same for every
-- tenant, so they carry no tenant_id. Row-level security still guards them:
-- every transaction may read them, only a platform transaction (app.tenant_id
-- = '*', which no request can name) may write, so a tenant's request cannot
-- plant or delete an advisory even through a bug in a use case.

CREATE TABLE advisories (
    advisory_id  text PRIMARY KEY,
    modified     timestamptz NOT NULL,
    published    timestamptz,
    withdrawn    timestamptz,
    -- The OSV document as imported; matching re-parses it.
    document     jsonb NOT NULL CHECK (jsonb_typeof(document) = 'object'),
    imported_at  timestamptz NOT NULL
);

-- Which advisory names which package: the lookup key of matching.
CREATE TABLE advisory_packages (
    advisory_id  text NOT NULL REFERENCES advisories (advisory_id) ON DELETE CASCADE,
    package      text NOT NULL,
    PRIMARY KEY (package, advisory_id)
);

ALTER TABLE advisories ENABLE ROW LEVEL SECURITY;
ALTER TABLE advisories FORCE ROW LEVEL SECURITY;
CREATE POLICY everyone_reads ON advisories FOR SELECT USING (true);
CREATE POLICY platform_writes ON advisories FOR ALL
    USING (current_setting('app.tenant_id', true) = '*')
    WITH CHECK (current_setting('app.tenant_id', true) = '*');

ALTER TABLE advisory_packages ENABLE ROW LEVEL SECURITY;
ALTER TABLE advisory_packages FORCE ROW LEVEL SECURITY;
CREATE POLICY everyone_reads ON advisory_packages FOR SELECT USING (true);
CREATE POLICY platform_writes ON advisory_packages FOR ALL
    USING (current_setting('app.tenant_id', true) = '*')
    WITH CHECK (current_setting('app.tenant_id', true) = '*');

-- A tenant's factor weights; no row means the platform defaults.
CREATE TABLE trust_policies (
    tenant_id         text PRIMARY KEY,
    publisher         integer NOT NULL CHECK (publisher BETWEEN 0 AND 100),
    security_history  integer NOT NULL CHECK (security_history BETWEEN 0 AND 100),
    community         integer NOT NULL CHECK (community BETWEEN 0 AND 100),
    quality           integer NOT NULL CHECK (quality BETWEEN 0 AND 100),
    update_cadence    integer NOT NULL CHECK (update_cadence BETWEEN 0 AND 100),
    updated_at        timestamptz NOT NULL,
    CHECK (publisher + security_history + community + quality + update_cadence > 0)
);
ALTER TABLE trust_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE trust_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON trust_policies
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');

-- Every score given, with its breakdown: never updated, so a verdict stays
-- explainable after the weights or the advisories change.
CREATE TABLE trust_scores (
    score_id       uuid PRIMARY KEY,
    tenant_id      text NOT NULL,
    plugin         text NOT NULL,
    version        text NOT NULL,
    score          integer NOT NULL CHECK (score BETWEEN 0 AND 100),
    -- {"publisher": 30, ...}
    weights        jsonb NOT NULL CHECK (jsonb_typeof(weights) = 'object'),
    -- [{"name", "score", "weight", "evidence": [{"signal", "value", "points", "scorecard_check"}]}]
    factors        jsonb NOT NULL CHECK (jsonb_typeof(factors) = 'array'),
    inputs_digest  text NOT NULL,
    scored_at      timestamptz NOT NULL
);
CREATE INDEX trust_scores_by_plugin ON trust_scores (tenant_id, plugin, version, scored_at DESC);
ALTER TABLE trust_scores ENABLE ROW LEVEL SECURITY;
ALTER TABLE trust_scores FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON trust_scores
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');
