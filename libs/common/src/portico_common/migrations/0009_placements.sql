-- Where a tenant's rows live when not in the shared tables: its own schema in
-- this database (bridge) or its own database (silo). A tenant without a row
-- is in the shared tables (pool). Only the migrator writes here (placing or
-- moving a tenant); the services' roles read it, once per transaction, in
-- enter_tenant(), so no process routes on a stale cache.
CREATE TABLE placements (
    tenant_id  text PRIMARY KEY,
    tier       text NOT NULL CHECK (tier IN ('pool', 'bridge', 'silo')),
    -- bridge: the tenant's schema here; silo: the tenant's database.
    location   text NOT NULL DEFAULT '',
    placed_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((tier = 'pool') = (location = ''))
);

-- Opens a tenant's transaction: app.tenant_id, then the tenant's place. The
-- shared advisory lock is what a move between tiers takes exclusively: a move
-- waits for the tenant's running transactions, and the transactions that
-- start meanwhile wait for the move, then read the new place. The lock comes
-- before the read (a volatile function's statements each take a new
-- snapshot), and a bridge tenant's search_path is set transaction-local, so
-- nothing outlives the transaction on a pooled (or PgBouncer) connection.
DO $do$
BEGIN
    EXECUTE format($f$
        CREATE FUNCTION enter_tenant(tenant text, OUT tier text, OUT location text)
        LANGUAGE plpgsql VOLATILE AS $body$
        BEGIN
            PERFORM set_config('app.tenant_id', tenant, true);
            PERFORM pg_advisory_xact_lock_shared(hashtext(%L || tenant));
            SELECT p.tier, p.location INTO tier, location
              FROM %I.placements p WHERE p.tenant_id = tenant;
            IF NOT FOUND THEN
                tier := 'pool';
                location := '';
            END IF;
            IF tier = 'bridge' THEN
                PERFORM set_config('search_path', format('%%I, public', location), true);
            END IF;
        END $body$
    $f$, 'portico:placement:' || current_schema() || ':', current_schema());
END $do$;
