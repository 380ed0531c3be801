"""End to end through the slo domain: traffic over simulated hours until a violation."""

from __future__ import annotations

from datetime import datetime, timedelta

from portico_slo.domain.buckets import bucket_key, window_span
from portico_slo.domain.burn_rate import Counts, classify, evaluate
from portico_slo.domain.events import SloViolated
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.series import PrefixSeries
from portico_slo.domain.slo import SloState, SloStatus

BUCKET = 10


def test_regression_is_detected_within_the_hour_and_reported_once(
    definition: SloDefinition, t0: datetime
) -> None:
    """Two healthy hours stay OK; a 30% error regression escalates tier by tier, each once.

    With two hours of history the slow tiers' windows hold mostly the
    regression, so tickets come first; the hour page fires ~27 min on.
    """
    series = PrefixSeries(bucket_key(t0, BUCKET), BUCKET)
    status = SloStatus(slo_id=definition.slo_id)
    regression_at = t0 + timedelta(hours=2)
    violations: list[SloViolated] = []
    for second in range(3 * 3600):
        now = t0 + timedelta(seconds=second)
        failing = now >= regression_at and second % 10 < 3
        # About 0.5% of requests are slow: a burn rate near 0.5, under every tier's factor.
        latency = 450 if second % 199 == 0 else 80
        good = classify(not failing, latency, definition.latency_threshold_ms)
        series.add(bucket_key(now, BUCKET), Counts.of(good))
        if second % BUCKET == BUCKET - 1:
            windows = {
                w: series.summary(*window_span(now, w, BUCKET)) for w in definition.alerting.windows
            }
            events = status.observe(definition, evaluate(definition, windows), now)
            assert not [e for e in events if not isinstance(e, SloViolated)], "nothing recovers"
            violations += [e for e in events if isinstance(e, SloViolated)]
            if now < regression_at:
                assert status.state is SloState.OK, now
    # Each tier is announced once, slowest first: a faster one firing never holds back a
    # faster one still, and a slower one starting after a faster fires would be inhibited.
    assert [v.tier for v in violations] == ["ticket-3d", "ticket-1d", "page-6h", "page-1h"]
    assert all(v.detected_at > regression_at for v in violations)
    assert status.state is SloState.VIOLATED
    # The hour window needs ~(0.144 - 0.005) / 0.30 of an hour of 30% errors: ~28 minutes.
    page = violations[-1]
    detected = page.detected_at
    assert regression_at + timedelta(minutes=20) < detected < regression_at + timedelta(minutes=35)
    assert page.short_window_burn_rate >= 14.4
    assert page.long_window_burn_rate >= 14.4
