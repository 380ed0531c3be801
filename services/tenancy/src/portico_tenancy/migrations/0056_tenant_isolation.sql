-- Where each tenant's rows live in every service (docs/tenancy-isolation.md),
-- chosen at creation. A bridge or silo tenant is placed by the privileged
-- placer (`python -m portico_common.dbsetup place-pending`, the administrator
-- and the migrator), which finds it here and stamps the outcome in the
-- placement columns, the only ones it writes; tenancy then activates the
-- tenant. Tenants that existed before are in the pool, placed and provisioned.
ALTER TABLE tenants
    ADD COLUMN isolation text NOT NULL DEFAULT 'pool'
        CHECK (isolation IN ('pool', 'bridge', 'silo')),
    -- Set by the placer once every service has the tenant's place; pool: at creation.
    ADD COLUMN placed_at timestamptz,
    -- The place the placer made: the bridge schemas (one per service) or the silo database.
    ADD COLUMN placement_location text NOT NULL DEFAULT '',
    -- The last failure of the placer for this tenant (cleared when it succeeds).
    ADD COLUMN placement_error text NOT NULL DEFAULT '',
    ADD COLUMN placement_attempts integer NOT NULL DEFAULT 0,
    -- Set when the tenant's cluster provisioning finished (or needed none).
    ADD COLUMN provisioned_at timestamptz;
UPDATE tenants SET placed_at = created_at,
                   provisioned_at = CASE WHEN state <> 'provisioning' THEN created_at END;
-- What the placer scans, and what tenancy's placement watcher scans.
CREATE INDEX tenants_awaiting_placement ON tenants (created_at)
    WHERE isolation <> 'pool' AND placed_at IS NULL;
CREATE INDEX tenants_placed_provisioning ON tenants (tenant_id)
    WHERE state = 'provisioning' AND placed_at IS NOT NULL;
