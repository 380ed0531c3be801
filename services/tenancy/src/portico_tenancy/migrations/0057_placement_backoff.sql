-- The placer's upkeep of bridge and silo tenants (docs/tenancy-isolation.md).
-- Like the other placement columns, only the placer (as the migrator, which
-- owns this table) writes these; tenancy reads them.
ALTER TABLE tenants
    -- When the placer may try a failed placement (or a failed drop of a
    -- deleted tenant's place) again: it backs off exponentially, with jitter,
    -- instead of retrying on every pass. NULL: at its next pass.
    ADD COLUMN placement_retry_at timestamptz,
    -- When the placer dropped a deleted tenant's place (its bridge schemas or
    -- its silo database) and the services' placements rows naming it.
    ADD COLUMN placement_dropped_at timestamptz,
    -- The placer's last failure to drop it (cleared when it succeeds), and how
    -- many times it failed.
    ADD COLUMN placement_drop_error text NOT NULL DEFAULT '',
    ADD COLUMN placement_drop_failures integer NOT NULL DEFAULT 0;
-- What the placer's drop pass scans: deleted tenants whose place may remain.
CREATE INDEX tenants_place_to_drop ON tenants (tenant_id)
    WHERE state = 'deleted' AND isolation <> 'pool' AND placement_dropped_at IS NULL;
