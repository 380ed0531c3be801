-- The kernel's retention purges finished deliveries in batches by finished_at
-- (portico_slo.bootstrap.retention_rules); this index lets each batch find its
-- rows without reading the whole delivery log.
CREATE INDEX alert_deliveries_finished ON alert_deliveries (finished_at)
    WHERE state IN ('delivered', 'failed', 'dropped');
