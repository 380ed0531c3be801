-- One SLO per plugin version of a tenant: its definition, where it stands,
-- and the burn rates of its last evaluation.
CREATE TABLE slos (
    slo_id                  text PRIMARY KEY,
    tenant_id               text NOT NULL,
    plugin                  text NOT NULL,
    version                 text NOT NULL,
    objective               double precision NOT NULL CHECK (objective > 0 AND objective < 1),
    window_seconds          bigint NOT NULL CHECK (window_seconds > 0),
    latency_threshold_ms    bigint NOT NULL CHECK (latency_threshold_ms >= 0),
    burn_rate_threshold     double precision NOT NULL CHECK (burn_rate_threshold > 0),
    short_window_seconds    bigint NOT NULL CHECK (short_window_seconds > 0),
    long_window_seconds     bigint NOT NULL CHECK (long_window_seconds > short_window_seconds),
    min_events              bigint NOT NULL CHECK (min_events >= 1),
    -- Both windows are whole multiples of it (see portico_slo.domain.buckets).
    bucket_seconds          integer NOT NULL CHECK (bucket_seconds > 0),
    state                   text NOT NULL DEFAULT 'OK' CHECK (state IN ('OK', 'VIOLATED')),
    violated_at             timestamptz,
    short_window_burn_rate  double precision NOT NULL DEFAULT 0,
    long_window_burn_rate   double precision NOT NULL DEFAULT 0,
    evaluated_at            timestamptz,
    created_at              timestamptz NOT NULL,
    CONSTRAINT slos_version_unique UNIQUE (tenant_id, plugin, version),
    -- Lets buckets reference (slo, tenant), so a bucket cannot carry another tenant's id.
    CONSTRAINT slos_tenant_unique UNIQUE (slo_id, tenant_id),
    CONSTRAINT slos_violated_has_time CHECK ((state = 'VIOLATED') = (violated_at IS NOT NULL)),
    CONSTRAINT slos_whole_buckets CHECK (short_window_seconds % bucket_seconds = 0
                                         AND long_window_seconds % bucket_seconds = 0)
);
ALTER TABLE slos ENABLE ROW LEVEL SECURITY;
ALTER TABLE slos FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON slos
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');

-- Good and bad outcomes per SLO and bucket (the epoch second it starts at).
-- A report increments one row per bucket it touches, so storage and the work
-- of a report grow with buckets, not with outcomes.
CREATE TABLE outcome_buckets (
    slo_id     text NOT NULL,
    tenant_id  text NOT NULL,
    bucket     bigint NOT NULL,
    good       bigint NOT NULL DEFAULT 0 CHECK (good >= 0),
    bad        bigint NOT NULL DEFAULT 0 CHECK (bad >= 0),
    -- The window sums read a range of one SLO's buckets: this index, in order.
    PRIMARY KEY (slo_id, bucket),
    FOREIGN KEY (slo_id, tenant_id) REFERENCES slos (slo_id, tenant_id) ON DELETE CASCADE
);
ALTER TABLE outcome_buckets ENABLE ROW LEVEL SECURITY;
ALTER TABLE outcome_buckets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outcome_buckets
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*')
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
           OR current_setting('app.tenant_id', true) = '*');
