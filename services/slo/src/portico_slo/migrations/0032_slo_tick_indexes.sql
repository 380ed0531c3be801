-- The evaluator's tick reads only the SLOs it can change: those with buckets
-- inside their alerting windows (found from the newest buckets, not per SLO)
-- and those with tiers still to settle (few, so a partial index).
CREATE INDEX outcome_buckets_by_bucket ON outcome_buckets (bucket);
CREATE INDEX slos_unsettled ON slos (slo_id) WHERE state <> 'OK' OR tier_states <> '{}'::jsonb;
