-- Auth's tables are platform-level, not tenant-scoped. Row-level security
-- still guards them: only a platform transaction (app.tenant_id = '*') sees a
-- row, so a tenant-scoped query that wandered in here finds nothing.

CREATE TABLE signing_keys (
    kid                 text PRIMARY KEY,          -- RFC 7638 thumbprint of the public key
    sealed_private_key  bytea NOT NULL,            -- AES-GCM under the KEK, bound to kid
    created_at          timestamptz NOT NULL,
    not_after           timestamptz NOT NULL,      -- signs until then; published a while longer
    CHECK (not_after > created_at)
);
ALTER TABLE signing_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE signing_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_only ON signing_keys
    USING (current_setting('app.tenant_id', true) = '*')
    WITH CHECK (current_setting('app.tenant_id', true) = '*');

CREATE TABLE clients (
    client_id    text PRIMARY KEY,
    secret_hash  text NOT NULL,                    -- scrypt$ln=..,r=..,p=..$salt$hash
    tenants      text[] NOT NULL,                  -- '*' means every tenant
    scopes       text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE clients ENABLE ROW LEVEL SECURITY;
ALTER TABLE clients FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_only ON clients
    USING (current_setting('app.tenant_id', true) = '*')
    WITH CHECK (current_setting('app.tenant_id', true) = '*');
