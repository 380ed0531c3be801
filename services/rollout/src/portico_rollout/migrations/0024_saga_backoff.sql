-- The saga runner backs off a step that fails: how many attempts at it failed
-- in a row, when it may be tried again (NULL: it never failed, so it is due at
-- once), and what the last failure said. Kept in the row, so a restart (or
-- another replica) keeps the backoff.
ALTER TABLE rollback_steps ADD COLUMN failed_attempts integer NOT NULL DEFAULT 0
    CHECK (failed_attempts >= 0);
ALTER TABLE rollback_steps ADD COLUMN next_attempt_at timestamptz;
ALTER TABLE rollback_steps ADD COLUMN last_error text NOT NULL DEFAULT '';
-- A saga is due by the first of its pending steps (the only one it can run):
-- the runner reads those heads on every pass.
DROP INDEX rollback_steps_pending;
CREATE INDEX rollback_steps_pending ON rollback_steps (rollout_id, ordinal)
    WHERE state = 'pending';
