-- SLOs named per tenant and scoped to a plugin, a version or a canary cohort,
-- with their full spec (tiers, window, SLI, budgeting) as JSON. The classic
-- columns stay filled (from the fastest enabled tier) so their checks hold.
ALTER TABLE slos
    ADD COLUMN name text,
    ADD COLUMN scope_kind text NOT NULL DEFAULT 'version'
        CHECK (scope_kind IN ('plugin', 'version', 'canary')),
    ADD COLUMN rollout_id text NOT NULL DEFAULT '',
    ADD COLUMN spec jsonb,
    -- Every window the enabled tiers sum, so one query evaluates all SLOs.
    ADD COLUMN windows bigint[],
    ADD COLUMN timeslice_target double precision NOT NULL DEFAULT 0,
    -- Active tiers: {"page-1h": {"state": "firing", "since": ..., "violation_id": ...}}.
    ADD COLUMN tier_states jsonb NOT NULL DEFAULT '{}',
    -- The last evaluation per tier: [{"tier": ..., "short": ..., "long": ...}].
    ADD COLUMN tier_burns jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN refused_outcomes bigint NOT NULL DEFAULT 0 CHECK (refused_outcomes >= 0),
    ADD COLUMN pulled boolean NOT NULL DEFAULT false,
    ADD COLUMN pulled_until timestamptz;
UPDATE slos SET name = plugin || '@' || version,
                windows = ARRAY[short_window_seconds, long_window_seconds];
ALTER TABLE slos ALTER COLUMN name SET NOT NULL, ALTER COLUMN windows SET NOT NULL;
ALTER TABLE slos DROP CONSTRAINT slos_version_unique;
ALTER TABLE slos ADD CONSTRAINT slos_name_unique UNIQUE (tenant_id, name);
-- Reports find the SLOs an outcome counts for by plugin (and version).
CREATE INDEX slos_by_plugin ON slos (tenant_id, plugin, version);
-- Tiers are checked by the service (each window a whole number of buckets);
-- an SLO whose window fits no tier has classic columns that describe none.
ALTER TABLE slos DROP CONSTRAINT slos_whole_buckets;
