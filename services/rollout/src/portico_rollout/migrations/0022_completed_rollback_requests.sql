-- A violation of a completed rollout in its post-promotion window is recorded on
-- the rollout (rolling_back) and decided by the scheduler once it has read the
-- stable version's advisories: such a rollout is due like one in progress.
ALTER TABLE rollouts DROP CONSTRAINT rollouts_due_when_scheduled;
ALTER TABLE rollouts ADD CONSTRAINT rollouts_due_when_scheduled CHECK (
    (state IN ('IN_PROGRESS', 'ROLLING_BACK')
     OR (state = 'COMPLETED' AND rolling_back IS NOT NULL)) = (due_at IS NOT NULL));
DROP INDEX rollouts_due;
CREATE INDEX rollouts_due ON rollouts (due_at) WHERE due_at IS NOT NULL;
