-- Rollouts, the verdicts that start them, the stable version per plugin, and
-- the persisted rollback saga. Every table is tenant-scoped under FORCE RLS.

CREATE TABLE rollouts (
    rollout_id        text PRIMARY KEY,
    tenant_id         text NOT NULL,
    plugin            text NOT NULL,
    version           text NOT NULL,
    stable_version    text NOT NULL DEFAULT '',
    state             text NOT NULL CHECK (state IN
                        ('AWAITING_CHECKS', 'IN_PROGRESS', 'COMPLETED', 'ROLLED_BACK', 'REFUSED')),
    phases            integer[] NOT NULL,
    phase_index       integer NOT NULL CHECK (phase_index >= 0),
    bake_seconds      integer NOT NULL CHECK (bake_seconds >= 0),
    security_passed   boolean,
    compat_passed     boolean,
    reason            text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL,
    phase_started_at  timestamptz,
    -- When the current phase has baked (NULL unless IN_PROGRESS); written by
    -- the adapter from Rollout.due_at() so the scheduler's query is an index scan.
    due_at            timestamptz,
    history           jsonb NOT NULL DEFAULT '[]',
    -- Optimistic concurrency: a save names the revision it loaded.
    revision          integer NOT NULL DEFAULT 0 CHECK (revision >= 0),
    CHECK ((state = 'IN_PROGRESS') = (due_at IS NOT NULL)),
    -- Lets child tables reference (tenant, rollout), so a row cannot cross tenants.
    UNIQUE (tenant_id, rollout_id)
);
-- At most one rollout per plugin that is not finished.
CREATE UNIQUE INDEX rollouts_one_unfinished ON rollouts (tenant_id, plugin)
    WHERE state IN ('AWAITING_CHECKS', 'IN_PROGRESS');
CREATE INDEX rollouts_due ON rollouts (due_at) WHERE state = 'IN_PROGRESS';
CREATE INDEX rollouts_by_plugin ON rollouts (tenant_id, plugin, created_at);
ALTER TABLE rollouts ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollouts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rollouts
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');

-- Security and compat verdicts, kept even when no rollout exists yet.
CREATE TABLE check_verdicts (
    tenant_id    text NOT NULL,
    event_id     text NOT NULL,
    plugin       text NOT NULL,
    version      text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('security', 'compat')),
    passed       boolean NOT NULL,
    reasons      text[] NOT NULL DEFAULT '{}',
    at           timestamptz NOT NULL,
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX check_verdicts_by_version ON check_verdicts (tenant_id, plugin, version, seq);
ALTER TABLE check_verdicts ENABLE ROW LEVEL SECURITY;
ALTER TABLE check_verdicts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON check_verdicts
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');

-- The version serving 100% of a tenant's users, set when a rollout completes.
CREATE TABLE stable_versions (
    tenant_id    text NOT NULL,
    plugin       text NOT NULL,
    version      text NOT NULL,
    rollout_id   text NOT NULL,
    since        timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, plugin)
);
ALTER TABLE stable_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE stable_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON stable_versions
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');

-- The rollback saga, one row per step; a step is done at most once.
CREATE TABLE rollback_steps (
    rollout_id   text NOT NULL,
    tenant_id    text NOT NULL,
    step         text NOT NULL,
    ordinal      integer NOT NULL,
    state        text NOT NULL CHECK (state IN ('pending', 'done')),
    detail       text NOT NULL DEFAULT '',
    at           timestamptz NOT NULL,
    PRIMARY KEY (rollout_id, step),
    UNIQUE (rollout_id, ordinal),
    FOREIGN KEY (tenant_id, rollout_id) REFERENCES rollouts (tenant_id, rollout_id)
);
ALTER TABLE rollback_steps ENABLE ROW LEVEL SECURITY;
ALTER TABLE rollback_steps FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON rollback_steps
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');
