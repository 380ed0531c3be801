-- One circuit breaker per plugin version of a tenant (resilience4j's state
-- machine, see portico_slo.domain.breakers): its configuration, its state and
-- the sliding window of that state, written by the transaction of each report
-- that feeds it, so every replica, and a restarted one, continues from here.
CREATE TABLE breakers (
    breaker_id           text PRIMARY KEY,
    tenant_id            text NOT NULL,
    plugin               text NOT NULL,
    version              text NOT NULL,
    -- plugin@version: the listing order and its page token.
    name                 text NOT NULL,
    -- The SLO it was created with; '' when configured on its own (no foreign
    -- key: deleting the SLO leaves the version its breaker).
    slo_id               text NOT NULL DEFAULT '',
    config               jsonb NOT NULL,
    state                text NOT NULL CHECK (state IN ('CLOSED', 'OPEN', 'HALF_OPEN', 'DISABLED',
                                                        'FORCED_OPEN', 'METRICS_ONLY')),
    since                timestamptz NOT NULL,
    attempts             integer NOT NULL CHECK (attempts >= 0),
    -- The state's window as portico_slo.domain.breakers_windows stores it;
    -- NULL in the states that record nothing (forced open, disabled).
    sliding_window       jsonb,
    window_minimum       integer NOT NULL CHECK (window_minimum >= 0),
    not_permitted_calls  bigint NOT NULL CHECK (not_permitted_calls >= 0),
    open_until           timestamptz,
    half_open_until      timestamptz,
    -- Metrics only: the thresholds already announced.
    announced            text[] NOT NULL,
    transitions          bigint NOT NULL CHECK (transitions >= 0),
    -- When the evaluator's tick moves it next (automatic transition from open,
    -- the maximum wait in half-open); NULL: only a report or an operator moves it.
    due_at               timestamptz,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    CONSTRAINT breakers_version_unique UNIQUE (tenant_id, plugin, version),
    CONSTRAINT breakers_open_has_wait CHECK ((state = 'OPEN') = (open_until IS NOT NULL))
);
CREATE INDEX breakers_by_name ON breakers (tenant_id, name);
CREATE INDEX breakers_due ON breakers (due_at) WHERE due_at IS NOT NULL;
SELECT enable_tenant_isolation('breakers');
