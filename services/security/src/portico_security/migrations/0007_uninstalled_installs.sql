-- An approved install the tenant removed again (Uninstall) is UNINSTALLED;
-- plugin.install.uninstalled, in the same transaction, has tenancy release
-- what the plugin held against the tenant's quota.
ALTER TABLE install_requests
    DROP CONSTRAINT install_requests_status_check,
    ADD CONSTRAINT install_requests_status_check
        CHECK (status IN ('REJECTED', 'PENDING_APPROVAL', 'APPROVED', 'EXPIRED', 'UNINSTALLED'));
