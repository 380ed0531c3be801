-- ALL_TENANTS ('*') opens every tenant's rows only to a member of
-- portico_platform: the services' platform roles (schedulers, the relay) and
-- the migrator. A service's request role is a member of nothing, so a
-- request path that sets '*' (a bug, a wildcard slipping through) sees no
-- tenant's rows and can write none.
--
-- platform_scope() is what every policy says instead of the bare comparison;
-- migrate runs guard_platform_policies() after each run, so the policies
-- written out by earlier service migrations, and by later ones, are guarded
-- too, and a policy that still lets '*' through unguarded fails the run.

CREATE FUNCTION platform_scope() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT current_setting('app.tenant_id', true) = '*'
           AND pg_has_role(current_user, 'portico_platform', 'MEMBER')
$$;

CREATE OR REPLACE FUNCTION enable_tenant_isolation(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s'
        ' USING (tenant_id = current_setting(''app.tenant_id'', true) OR platform_scope())'
        ' WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true) OR platform_scope())',
        tbl);
END $$;

CREATE FUNCTION guard_platform_policies() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    bare constant text := '(current_setting(''app.tenant_id''::text, true) = ''*''::text)';
    scope constant text := format('%I.platform_scope()', current_schema());
    pol record;
    qual text;
    checked text;
    changed integer := 0;
BEGIN
    FOR pol IN
        SELECT p.polname, p.polrelid::regclass AS tbl,
               pg_get_expr(p.polqual, p.polrelid) AS qual,
               pg_get_expr(p.polwithcheck, p.polrelid) AS checked
          FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
         WHERE c.relnamespace = current_schema()::regnamespace
    LOOP
        qual := replace(pol.qual, bare, scope);
        checked := replace(pol.checked, bare, scope);
        IF qual IS DISTINCT FROM pol.qual THEN
            EXECUTE format('ALTER POLICY %I ON %s USING (%s)', pol.polname, pol.tbl, qual);
            changed := changed + 1;
        END IF;
        IF checked IS DISTINCT FROM pol.checked THEN
            EXECUTE format('ALTER POLICY %I ON %s WITH CHECK (%s)', pol.polname, pol.tbl, checked);
            changed := changed + 1;
        END IF;
    END LOOP;
    -- Whatever other shape a policy gave '*' is refused rather than left open.
    FOR pol IN
        SELECT p.polname, p.polrelid::regclass AS tbl
          FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
         WHERE c.relnamespace = current_schema()::regnamespace
           AND (coalesce(pg_get_expr(p.polqual, p.polrelid), '') LIKE '%''*''%'
                OR coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '') LIKE '%''*''%')
    LOOP
        RAISE EXCEPTION 'policy % on % compares app.tenant_id with ''*'' outside platform_scope()',
            pol.polname, pol.tbl;
    END LOOP;
    RETURN changed;
END $$;
