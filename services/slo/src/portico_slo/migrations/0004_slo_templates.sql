-- A tenant's SLO templates; at most one is its default.
CREATE TABLE slo_templates (
    tenant_id   text NOT NULL,
    name        text NOT NULL,
    is_default  boolean NOT NULL DEFAULT false,
    template    jsonb NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
CREATE UNIQUE INDEX slo_templates_one_default ON slo_templates (tenant_id) WHERE is_default;
SELECT enable_tenant_isolation('slo_templates');
