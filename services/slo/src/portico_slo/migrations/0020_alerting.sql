-- Alerting: channels, the routing tree, silences, alerts and their history,
-- aggregation groups, the notification log, and the delivery queue and log.
-- Every table is a tenant's, under row-level security.

-- Where notifications go. Settings are public; secrets are sealed (AES-GCM,
-- portico_slo.alerting.adapters.secrets) and only their fingerprints are read back.
CREATE TABLE alert_channels (
    tenant_id            text NOT NULL,
    channel_id           text NOT NULL,
    name                 text NOT NULL,
    kind                 text NOT NULL
                         CHECK (kind IN ('slack', 'email', 'pagerduty', 'webhook', 'alertmanager')),
    send_resolved        boolean NOT NULL,
    settings             jsonb NOT NULL DEFAULT '{}',
    secret_fingerprints  jsonb NOT NULL DEFAULT '{}',
    sealed_secrets       bytea NOT NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, channel_id),
    -- Routes name their receiver by channel name.
    CONSTRAINT alert_channels_name_unique UNIQUE (tenant_id, name)
);
SELECT enable_tenant_isolation('alert_channels');

-- One routing tree per tenant, with its inhibition rules (JSON, see
-- portico_slo.alerting.adapters.codec).
CREATE TABLE alert_routing (
    tenant_id                    text PRIMARY KEY,
    tree                         jsonb NOT NULL,
    inhibit_rules                jsonb NOT NULL DEFAULT '[]',
    default_inhibition_disabled  boolean NOT NULL DEFAULT false,
    updated_at                   timestamptz NOT NULL,
    updated_by                   text NOT NULL
);
SELECT enable_tenant_isolation('alert_routing');

CREATE TABLE alert_silences (
    tenant_id   text NOT NULL,
    silence_id  text NOT NULL,
    matchers    jsonb NOT NULL,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL CHECK (ends_at >= starts_at),
    created_by  text NOT NULL,
    comment     text NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, silence_id)
);
SELECT enable_tenant_isolation('alert_silences');

-- The current state of each alert (by its label set's fingerprint).
CREATE TABLE alerts (
    tenant_id    text NOT NULL,
    fingerprint  text NOT NULL,
    labels       jsonb NOT NULL,
    annotations  jsonb NOT NULL DEFAULT '{}',
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, fingerprint)
);
SELECT enable_tenant_isolation('alerts');

-- Every firing and resolution, append-only.
CREATE TABLE alert_history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    text NOT NULL,
    fingerprint  text NOT NULL,
    labels       jsonb NOT NULL,
    status       text NOT NULL CHECK (status IN ('firing', 'resolved')),
    at           timestamptz NOT NULL,
    event_id     text NOT NULL
);
CREATE INDEX alert_history_latest ON alert_history (tenant_id, id DESC);
SELECT enable_tenant_isolation('alert_history');

-- Aggregation groups: a route's alerts sharing its group labels, flushed by
-- the notifier when next_flush_at has come. `alerts` holds the group's copies.
CREATE TABLE alert_groups (
    tenant_id                text NOT NULL,
    group_key                text NOT NULL,
    receiver                 text NOT NULL,
    labels                   jsonb NOT NULL,
    group_wait_seconds       double precision NOT NULL CHECK (group_wait_seconds >= 0),
    group_interval_seconds   double precision NOT NULL CHECK (group_interval_seconds > 0),
    repeat_interval_seconds  double precision NOT NULL CHECK (repeat_interval_seconds > 0),
    alerts                   jsonb NOT NULL,
    next_flush_at            timestamptz NOT NULL,
    created_at               timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, group_key)
);
CREATE INDEX alert_groups_due ON alert_groups (next_flush_at);
SELECT enable_tenant_isolation('alert_groups');

-- What each receiver was last told about each group (deduplication).
CREATE TABLE alert_nflog (
    tenant_id        text NOT NULL,
    group_key        text NOT NULL,
    receiver         text NOT NULL,
    firing           text[] NOT NULL,
    resolved         text[] NOT NULL,
    notified_at      timestamptz NOT NULL,
    notification_id  text NOT NULL,
    PRIMARY KEY (tenant_id, group_key, receiver)
);
SELECT enable_tenant_isolation('alert_nflog');

-- Notifications: queued for delivery, then kept with their outcome (the delivery log).
CREATE TABLE alert_deliveries (
    tenant_id        text NOT NULL,
    notification_id  text NOT NULL,
    -- '' when the receiver named no channel (the delivery was dropped at once).
    channel_id       text NOT NULL,
    notification     jsonb NOT NULL,
    state            text NOT NULL
                     CHECK (state IN ('pending', 'sending', 'delivered', 'failed', 'dropped')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    error            text NOT NULL DEFAULT '',
    status_code      integer NOT NULL DEFAULT 0,
    lease_until      timestamptz,
    created_at       timestamptz NOT NULL,
    finished_at      timestamptz,
    PRIMARY KEY (tenant_id, notification_id)
);
CREATE INDEX alert_deliveries_queue ON alert_deliveries (created_at)
    WHERE state IN ('pending', 'sending');
CREATE INDEX alert_deliveries_latest ON alert_deliveries (tenant_id, created_at DESC);
SELECT enable_tenant_isolation('alert_deliveries');
