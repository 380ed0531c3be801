-- Each firing of a burn-rate tier with the evidence it fired on, written in
-- the transaction that emits its slo.violated; recovered_at is set by the one
-- that emits slo.recovered.
CREATE TABLE slo_violations (
    violation_id   text PRIMARY KEY,
    slo_id         text NOT NULL,
    tenant_id      text NOT NULL,
    detected_at    timestamptz NOT NULL,
    recovered_at   timestamptz,
    -- The slo.violated event as JSON (tier, rule, burn rates, window counts).
    violation      jsonb NOT NULL,
    recovery       jsonb,
    FOREIGN KEY (slo_id, tenant_id) REFERENCES slos (slo_id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX slo_violations_newest ON slo_violations (tenant_id, detected_at DESC);
CREATE INDEX slo_violations_of_slo ON slo_violations (slo_id, detected_at DESC);
SELECT enable_tenant_isolation('slo_violations');
