-- Rollouts promoted on evidence: strategy and plan (phases with bake, criteria
-- and approval gate), the version's SLO, attempts, pause, the scheduler's next
-- check and hold deadline, the pending gate; every decision with its evidence;
-- the audit trail of operator controls and approvals.

ALTER TABLE rollouts
    ADD COLUMN strategy text NOT NULL DEFAULT 'canary'
        CHECK (strategy IN ('canary', 'blue_green', 'rolling', 'instant')),
    -- [{"percent", "bake_seconds", "criteria", "approval"}, ...]; empty for rows
    -- from before plans, which the service reads as phases under the defaults.
    ADD COLUMN plan jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN hold_timeout_seconds integer NOT NULL DEFAULT 3600
        CHECK (hold_timeout_seconds >= 0),
    ADD COLUMN slo_id text NOT NULL DEFAULT '',
    ADD COLUMN attempt integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    ADD COLUMN retry_of text NOT NULL DEFAULT '',
    ADD COLUMN paused_at timestamptz,
    ADD COLUMN next_check_at timestamptz,
    ADD COLUMN hold_until timestamptz,
    ADD COLUMN gate jsonb,
    ADD COLUMN gate_phase integer NOT NULL DEFAULT 0 CHECK (gate_phase >= 0),
    ADD COLUMN decision_count integer NOT NULL DEFAULT 0 CHECK (decision_count >= 0);
ALTER TABLE rollouts DROP CONSTRAINT rollouts_state_check;
ALTER TABLE rollouts ADD CONSTRAINT rollouts_state_check CHECK (state IN
    ('AWAITING_CHECKS', 'IN_PROGRESS', 'PAUSED', 'COMPLETED', 'ROLLED_BACK', 'REFUSED'));
ALTER TABLE rollouts ADD CONSTRAINT rollouts_paused_has_time
    CHECK ((state = 'PAUSED') = (paused_at IS NOT NULL));
-- A paused rollout is not finished: it still counts as the plugin's one.
DROP INDEX rollouts_one_unfinished;
CREATE UNIQUE INDEX rollouts_one_unfinished ON rollouts (tenant_id, plugin)
    WHERE state IN ('AWAITING_CHECKS', 'IN_PROGRESS', 'PAUSED');
-- ListRollouts: a tenant's rollouts newest first.
CREATE INDEX rollouts_newest ON rollouts (tenant_id, created_at DESC, rollout_id DESC);

CREATE TABLE rollout_decisions (
    rollout_id   text NOT NULL,
    seq          integer NOT NULL CHECK (seq >= 1),
    tenant_id    text NOT NULL,
    at           timestamptz NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('advance', 'hold', 'fail', 'rollback')),
    source       text NOT NULL
        CHECK (source IN ('criteria', 'judgment', 'slo', 'operator', 'approval', 'checks')),
    phase_index  integer NOT NULL CHECK (phase_index >= 0),
    percent      integer NOT NULL CHECK (percent BETWEEN 0 AND 100),
    to_percent   integer NOT NULL CHECK (to_percent BETWEEN 0 AND 100),
    reasons      text[] NOT NULL DEFAULT '{}',
    evidence     jsonb NOT NULL DEFAULT '{}',
    attempt      integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
    PRIMARY KEY (rollout_id, seq),
    FOREIGN KEY (tenant_id, rollout_id) REFERENCES rollouts (tenant_id, rollout_id)
);
SELECT enable_tenant_isolation('rollout_decisions');

CREATE TABLE rollout_audit (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    text NOT NULL,
    rollout_id   text NOT NULL,
    at           timestamptz NOT NULL,
    actor        text NOT NULL,
    action       text NOT NULL,
    reason       text NOT NULL DEFAULT '',
    detail       text NOT NULL DEFAULT '',
    FOREIGN KEY (tenant_id, rollout_id) REFERENCES rollouts (tenant_id, rollout_id)
);
CREATE INDEX rollout_audit_by_tenant ON rollout_audit (tenant_id, seq);
SELECT enable_tenant_isolation('rollout_audit');

-- The trail is append-only: a record, once written, is never changed or removed.
CREATE FUNCTION rollout_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rollout_audit is append-only';
END
$$;
CREATE TRIGGER rollout_audit_append_only BEFORE UPDATE OR DELETE ON rollout_audit
    FOR EACH ROW EXECUTE FUNCTION rollout_audit_append_only();
