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
