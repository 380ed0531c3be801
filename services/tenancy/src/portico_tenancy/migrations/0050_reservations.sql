-- Quota reservations: what each install or rollout holds against the tenant's
-- quota, taken in one transaction that locks the tenant row, so two
-- concurrent claims can never both fit into the last free slot.
-- A reservation is 'held' while its install or rollout is under way,
-- 'in_use' once the installed version went live (it is then the tenant's
-- usage), 'released' after a rejection, expiry, rollback, refusal, an
-- uninstall or an explicit Release. Released rows stay: a Reserve retried
-- with the same id after its Release is answered with the released row,
-- never granted again.
CREATE TABLE tenant_reservations (
    tenant_id       text NOT NULL REFERENCES tenants (tenant_id),
    reservation_id  text NOT NULL CHECK (length(reservation_id) BETWEEN 1 AND 200),
    kind            text NOT NULL CHECK (kind IN ('install', 'rollout')),
    plugin          text NOT NULL DEFAULT '',
    version         text NOT NULL DEFAULT '',
    plugins         bigint NOT NULL DEFAULT 0 CHECK (plugins >= 0),
    rollouts        bigint NOT NULL DEFAULT 0 CHECK (rollouts >= 0),
    cpu_millicores  bigint NOT NULL DEFAULT 0 CHECK (cpu_millicores >= 0),
    memory_mib      bigint NOT NULL DEFAULT 0 CHECK (memory_mib >= 0),
    state           text NOT NULL CHECK (state IN ('held', 'in_use', 'released')),
    reason          text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, reservation_id)
);
-- What a claim sums and what the events settle: the live reservations.
CREATE INDEX tenant_reservations_live ON tenant_reservations (tenant_id, kind, plugin, version)
    WHERE state <> 'released';
SELECT enable_tenant_isolation('tenant_reservations');

-- The concurrent-rollouts dimension; NULL: no limit on it.
ALTER TABLE tenant_quotas
    ADD COLUMN max_rollouts bigint CHECK (max_rollouts >= 0);
