-- Idempotency keys recorded with the effect they guard. `attempt` names the
-- claim that runs the request now; the transaction that commits its effect
-- moves the key to 'applied' only if that claim still holds it, so a request
-- whose process died after the effect is never run again (the retry finds
-- 'applied'), and a claim taken over from a slow process rolls that
-- process's effect back instead of letting both commit.
ALTER TABLE idempotency_keys ADD COLUMN attempt text NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_state_check;
ALTER TABLE idempotency_keys
    ADD CONSTRAINT idempotency_keys_state_check CHECK (state IN ('in_flight', 'applied', 'done'));
-- What the purge job scans: keys past their time to live, oldest first.
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
