-- The evaluator's tick reads only the SLOs it can change: those with buckets
-- inside their longest alerting window, found from the newest buckets above
-- a bound below every SLO's window (the longest of all, kept in an index),
-- and those with tiers still to settle (few, so a partial index).
CREATE INDEX outcome_buckets_by_bucket ON outcome_buckets (bucket);
-- `windows` is ascending: its last element is the SLO's longest window.
CREATE INDEX slos_longest_window ON slos ((windows[cardinality(windows)] + bucket_seconds));
CREATE INDEX slos_unsettled ON slos (slo_id) WHERE state <> 'OK' OR tier_states <> '{}'::jsonb;
