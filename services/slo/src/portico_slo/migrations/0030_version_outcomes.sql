-- Outcomes per plugin version and second: counts, latency sum and a fixed
-- latency histogram (bucket bounds in portico_slo.domain.version_outcomes).
-- What rollout judges a canary against its baseline on; pruned after 8 days.
CREATE TABLE version_outcomes (
    tenant_id       text NOT NULL,
    plugin          text NOT NULL,
    version         text NOT NULL,
    second          bigint NOT NULL,
    total           bigint NOT NULL CHECK (total >= 0),
    errors          bigint NOT NULL CHECK (errors >= 0 AND errors <= total),
    latency_sum_ms  bigint NOT NULL CHECK (latency_sum_ms >= 0),
    histogram       bigint[] NOT NULL,
    PRIMARY KEY (tenant_id, plugin, version, second)
);
CREATE INDEX version_outcomes_by_second ON version_outcomes (second);
SELECT enable_tenant_isolation('version_outcomes');
