-- Row-level security for a tenant table, in one call from a service migration:
--     SELECT enable_tenant_isolation('my_table');
-- The table needs a text column tenant_id. FORCE applies the policy to the
-- table's owner too; the application role sees and writes only the rows of
-- the tenant its transaction set in app.tenant_id ('*': platform jobs).

CREATE FUNCTION enable_tenant_isolation(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s'
        ' USING (tenant_id = current_setting(''app.tenant_id'', true)'
        '        OR current_setting(''app.tenant_id'', true) = ''*'')'
        ' WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true)'
        '        OR current_setting(''app.tenant_id'', true) = ''*'')',
        tbl);
END $$;
