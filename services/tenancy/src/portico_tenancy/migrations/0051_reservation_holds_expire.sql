-- A hold is confirmed once its owner recorded the work it was taken for
-- (security stored the install request: plugin.install.requested; rollout
-- created the rollout: rollout.requested); the work's outcome events settle it
-- from then on. A hold still unconfirmed after the hold time to live belongs to
-- a caller that stopped between Reserve and its own commit: tenancy's sweep
-- releases it (tenant.reservation.expired).
ALTER TABLE tenant_reservations ADD COLUMN confirmed_at timestamptz;

-- Holds taken before holds could expire: their owners' commits were never
-- reported, so they count as confirmed rather than being expired unasked.
UPDATE tenant_reservations SET confirmed_at = updated_at WHERE state = 'held';

-- What the sweep looks for.
CREATE INDEX tenant_reservations_unconfirmed ON tenant_reservations (created_at)
    WHERE state = 'held' AND confirmed_at IS NULL;
