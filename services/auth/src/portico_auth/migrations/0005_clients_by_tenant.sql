-- A tenant's clients (ListClients, a tenant's deletion) are found by their
-- tenants array, not by scanning every client of every tenant.
CREATE INDEX clients_by_tenants ON clients (tenants, client_id);
