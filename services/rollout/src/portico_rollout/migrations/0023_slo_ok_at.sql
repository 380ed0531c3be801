-- When slo last judged the version's SLO OK before the rollout was created (slo's
-- clock): a violation detected by then belongs to an earlier attempt and is ignored.
ALTER TABLE rollouts ADD COLUMN slo_ok_at timestamptz;
