-- Per-tenant data-encryption keys, stored only wrapped by the KMS's key-encryption key.
-- No foreign key to tenants: a service may seal for a tenant id before tenancy lists it.

-- Which version seals new values; once shredded, no version and never again one.
CREATE TABLE tenant_key_rings (
    tenant_id        text PRIMARY KEY,
    primary_version  integer CHECK (primary_version > 0),
    shredded_at      timestamptz,
    updated_at       timestamptz NOT NULL,
    CHECK ((primary_version IS NULL) = (shredded_at IS NOT NULL))
);
SELECT enable_tenant_isolation('tenant_key_rings');

CREATE TABLE tenant_data_keys (
    tenant_id    text NOT NULL REFERENCES tenant_key_rings (tenant_id),
    version      integer NOT NULL CHECK (version > 0),
    wrapped      bytea NOT NULL,
    -- Which KMS wrapped it ('local', 'vault-transit') and under which KEK version.
    kms          text NOT NULL,
    kek_version  integer NOT NULL CHECK (kek_version > 0),
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, version)
);
SELECT enable_tenant_isolation('tenant_data_keys');
-- KEK rotation finds the keys still under an older KEK version.
CREATE INDEX tenant_data_keys_kek ON tenant_data_keys (kms, kek_version);
