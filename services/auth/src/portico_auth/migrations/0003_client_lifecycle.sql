-- Clients can be disabled, and a rotated-out secret may keep working beside
-- the new one until previous_secret_expires_at (both columns or neither).
ALTER TABLE clients ADD COLUMN disabled boolean NOT NULL DEFAULT false;
ALTER TABLE clients ADD COLUMN previous_secret_hash text;
ALTER TABLE clients ADD COLUMN previous_secret_expires_at timestamptz;
ALTER TABLE clients ADD CONSTRAINT previous_secret_complete
    CHECK ((previous_secret_hash IS NULL) = (previous_secret_expires_at IS NULL));

-- Bad secrets per client id (known or not, so a lockout reveals nothing),
-- persisted so every replica and every restart counts the same attempts.
-- Platform-level like clients: no tenant_id, so the kernel's
-- enable_tenant_isolation does not apply; the same platform-only policy does.
CREATE TABLE client_lockouts (
    client_id          text PRIMARY KEY,
    failures           integer NOT NULL CHECK (failures > 0),
    window_started_at  timestamptz NOT NULL,
    locked_until       timestamptz
);
ALTER TABLE client_lockouts ENABLE ROW LEVEL SECURITY;
ALTER TABLE client_lockouts FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_only ON client_lockouts
    USING (current_setting('app.tenant_id', true) = '*')
    WITH CHECK (current_setting('app.tenant_id', true) = '*');
