-- Idempotency keys belong to the caller that used them first: a replay by
-- another subject is refused instead of handed someone else's response.
ALTER TABLE idempotency_keys ADD COLUMN subject text NOT NULL DEFAULT '';

-- Every refused call, with who made it and what it lacked: the service's own
-- audit of access denials (the interceptor writes it; nothing updates it).
CREATE TABLE access_denials (
    id          bigserial PRIMARY KEY,
    tenant_id   text NOT NULL,
    subject     text NOT NULL,
    method      text NOT NULL,
    permission  text NOT NULL,
    roles       text[] NOT NULL,
    scopes      text[] NOT NULL,
    denied_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX access_denials_by_time ON access_denials (tenant_id, denied_at);
SELECT enable_tenant_isolation('access_denials');
