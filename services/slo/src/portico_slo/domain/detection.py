"""How long a burn-rate tier takes to fire: the workbook's formula and a simulation.

The SRE workbook (chapter 5) gives the detection time of a burn-rate alert
on a sudden, constant error rate after a clean window as

    detection = (1 - SLO) / error_rate * long_window * factor

so 100% errors on a 99.9% SLO fire the 1h/14.4 page after
0.001 * 3600 s * 14.4 = 51.84 s. A tier whose factor is above
error_rate / (1 - SLO) never fires. `simulate` replays the same scenario
through the buckets and the evaluator on a clock that a caller moves, so a
test or a benchmark can compare the two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from portico_slo.domain.buckets import bucket_key, window_span
from portico_slo.domain.burn_rate import Counts, evaluate
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.series import PrefixSeries
from portico_slo.domain.tiers import BurnRateTier


def workbook_detection_seconds(
    tier: BurnRateTier, objective: float, error_rate: float
) -> float | None:
    """The workbook's detection time, or None when the burn never reaches the factor."""
    burn = error_rate / (1 - objective)
    if burn < tier.factor:
        return None
    long = (1 - objective) / error_rate * tier.long_window_seconds * tier.factor
    short = (1 - objective) / error_rate * tier.short_window_seconds * tier.factor
    return max(long, short)


@dataclass(frozen=True, slots=True)
class Detection:
    tier: str
    error_rate: float
    workbook_seconds: float | None
    measured_seconds: float | None


def simulate(
    definition: SloDefinition,
    error_rate: float,
    *,
    now: Callable[[], datetime],
    advance: Callable[[int], object],
    step_seconds: int,
    events_per_second: int = 1_000,
    give_up_seconds: int | None = None,
) -> list[Detection]:
    """Clean traffic for the longest window, then `error_rate` errors until every tier fired.

    `now` and `advance` are a clock's (a ManualClock in tests): the scenario
    moves it step by step, adding each step's outcomes to the bucket they
    happened in and evaluating after each step, as the service does on every
    report. Returns each enabled tier's measured detection time (None if it
    did not fire within `give_up_seconds`) beside the workbook's.
    """
    bucket = definition.bucket_seconds
    tiers = definition.alerting.enabled
    longest = max(t.long_window_seconds for t in tiers)
    start = now()
    start_key = bucket_key(start, bucket)
    series = PrefixSeries(start_key - longest, bucket, definition.timeslice_target)
    # The clean past: every bucket of the longest window full of good events.
    for key in range(start_key - longest + bucket, start_key, bucket):
        series.add(key, Counts(good=events_per_second * bucket))
    expected = {
        t.name: workbook_detection_seconds(t, definition.objective, error_rate) for t in tiers
    }
    horizon = give_up_seconds or int(
        max((s for s in expected.values() if s is not None), default=0) * 1.5 + 2 * step_seconds
    )
    fired: dict[str, float] = {}
    elapsed = 0
    per_step = events_per_second * step_seconds
    bad_per_step = round(per_step * error_rate)
    while elapsed < horizon and len(fired) < len(tiers):
        series.add(bucket_key(now(), bucket), Counts(per_step - bad_per_step, bad_per_step))
        advance(step_seconds)
        elapsed += step_seconds
        moment = now()
        windows = {
            w: series.summary(*window_span(moment, w, bucket)) for w in definition.alerting.windows
        }
        for result in evaluate(definition, windows).tiers:
            if result.tripped and result.tier.name not in fired:
                fired[result.tier.name] = float(elapsed)
    return [Detection(t.name, error_rate, expected[t.name], fired.get(t.name)) for t in tiers]
