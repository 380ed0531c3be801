-- Tenants whose rollouts are paused (suspended or deleting): the scheduler
-- advances none of their rollouts until the tenant is active again.
CREATE TABLE paused_tenants (
    tenant_id  text PRIMARY KEY,
    state      text NOT NULL,
    paused_at  timestamptz NOT NULL
);
SELECT enable_tenant_isolation('paused_tenants');
