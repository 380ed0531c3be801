-- A rollout can be rolled back because a version it needs was: the decision's
-- source says so.
ALTER TABLE rollout_decisions DROP CONSTRAINT rollout_decisions_source_check;
ALTER TABLE rollout_decisions ADD CONSTRAINT rollout_decisions_source_check CHECK (source IN
    ('criteria', 'judgment', 'slo', 'operator', 'approval', 'checks', 'dependency'));
-- The saga runner looks for sagas with a step not done on every pass.
CREATE INDEX rollback_steps_pending ON rollback_steps (at) WHERE state = 'pending';
-- Critical advisories security lists for the stable version a rollout would go
-- back to: an automatic rollback onto it pauses and asks instead.
ALTER TABLE rollouts ADD COLUMN stable_advisories text[] NOT NULL DEFAULT '{}';
-- Gradual rollback: the policy (seconds between steps; 0 goes back at once),
-- the trigger while it steps down, and the state it steps down in.
ALTER TABLE rollouts ADD COLUMN rollback_step_seconds integer NOT NULL DEFAULT 0
    CHECK (rollback_step_seconds >= 0);
ALTER TABLE rollouts ADD COLUMN rolling_back jsonb;
ALTER TABLE rollouts DROP CONSTRAINT rollouts_state_check;
ALTER TABLE rollouts ADD CONSTRAINT rollouts_state_check CHECK (state IN
    ('AWAITING_CHECKS', 'IN_PROGRESS', 'PAUSED', 'ROLLING_BACK', 'COMPLETED', 'ROLLED_BACK',
     'REFUSED'));
DROP INDEX rollouts_one_unfinished;
CREATE UNIQUE INDEX rollouts_one_unfinished ON rollouts (tenant_id, plugin)
    WHERE state IN ('AWAITING_CHECKS', 'IN_PROGRESS', 'PAUSED', 'ROLLING_BACK');
-- A rollout stepping down is due like one in progress (its next step).
ALTER TABLE rollouts DROP CONSTRAINT rollouts_check;
ALTER TABLE rollouts ADD CONSTRAINT rollouts_due_when_scheduled
    CHECK ((state IN ('IN_PROGRESS', 'ROLLING_BACK')) = (due_at IS NOT NULL));
DROP INDEX rollouts_due;
CREATE INDEX rollouts_due ON rollouts (due_at) WHERE state IN ('IN_PROGRESS', 'ROLLING_BACK');
