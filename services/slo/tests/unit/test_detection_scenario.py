"""End to end through the slo domain: traffic over simulated hours until a violation."""

from __future__ import annotations

from datetime import datetime, timedelta

from portico_slo.domain.buckets import bucket_key, prune, window_counts
from portico_slo.domain.burn_rate import Counts, classify, evaluate
from portico_slo.domain.events import SloViolated
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.slo import SloState, SloStatus

BUCKET = 10


def test_regression_is_detected_within_the_hour_and_reported_once(
    definition: SloDefinition, t0: datetime
) -> None:
    """Two healthy hours stay OK; after a 30% error regression the SLO trips once, ~27 min on."""
    buckets: dict[int, Counts] = {}
    status = SloStatus(slo_id=definition.slo_id)
    regression_at = t0 + timedelta(hours=2)
    violations: list[SloViolated] = []
    for second in range(3 * 3600):
        now = t0 + timedelta(seconds=second)
        failing = now >= regression_at and second % 10 < 3
        # About 1% of requests are slow: a burn rate near 1, far under 14.4.
        latency = 450 if second % 97 == 0 else 80
        good = classify(not failing, latency, definition.latency_threshold_ms)
        key = bucket_key(now, BUCKET)
        buckets[key] = buckets.get(key, Counts()) + Counts.of(good)
        if second % BUCKET == BUCKET - 1:
            buckets = prune(buckets, now, definition.long_window_seconds, BUCKET)
            short = window_counts(buckets, now, definition.short_window_seconds, BUCKET)
            long = window_counts(buckets, now, definition.long_window_seconds, BUCKET)
            violations += status.observe(definition, evaluate(definition, short, long), now)
    assert len(violations) == 1
    assert status.state is SloState.VIOLATED
    # The hour window needs ~(0.144 - 0.01) / 0.30 of an hour of 30% errors: ~27 minutes.
    detected = violations[0].detected_at
    assert regression_at + timedelta(minutes=20) < detected < regression_at + timedelta(minutes=35)
    assert violations[0].short_window_burn_rate >= 14.4
    assert violations[0].long_window_burn_rate >= 14.4
