-- The tenant lifecycle and metadata. Tenants that existed before are active.
ALTER TABLE tenants
    ADD COLUMN state text NOT NULL DEFAULT 'active'
        CHECK (state IN ('provisioning', 'active', 'suspended', 'deleting', 'deleted')),
    ADD COLUMN plan text NOT NULL DEFAULT '',
    ADD COLUMN owner_contacts text[] NOT NULL DEFAULT '{}',
    ADD COLUMN labels jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN state_changed_at timestamptz,
    ADD COLUMN suspension_reason text NOT NULL DEFAULT '',
    -- While deleting: the state a restore returns to, and when the grace period ends.
    ADD COLUMN restore_to text CHECK (restore_to IN ('active', 'suspended')),
    ADD COLUMN delete_after timestamptz,
    ADD COLUMN deletion_requested_at timestamptz,
    ADD COLUMN updated_at timestamptz,
    ADD CONSTRAINT tenants_deleting_has_grace
        CHECK ((state = 'deleting') = (delete_after IS NOT NULL AND restore_to IS NOT NULL)
               OR state = 'deleted');
UPDATE tenants SET state_changed_at = created_at, updated_at = created_at;
CREATE INDEX tenants_by_state ON tenants (state, tenant_id);
CREATE INDEX tenants_by_plan ON tenants (plan, tenant_id);
CREATE INDEX tenants_labels ON tenants USING gin (labels jsonb_path_ops);
-- What the deletion job scans: grace periods that end, deletions not yet requested.
CREATE INDEX tenants_deletion_due ON tenants (delete_after)
    WHERE state = 'deleting' AND deletion_requested_at IS NULL;

-- The deletion saga: one row per service that reported the tenant's data deleted.
CREATE TABLE tenant_data_deletions (
    tenant_id     text NOT NULL REFERENCES tenants (tenant_id),
    service       text NOT NULL,
    rows_deleted  bigint NOT NULL DEFAULT 0 CHECK (rows_deleted >= 0),
    reported_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, service)
);
SELECT enable_tenant_isolation('tenant_data_deletions');
