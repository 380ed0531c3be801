"""The SRE workbook's detection times, reproduced on a ManualClock within one evaluation step.

For a sudden constant error rate on a 99.9% SLO, the workbook's formula gives
each tier's detection time as (1 - SLO) / error_rate * long_window * factor;
100% errors fire the 1h/5m page after 51.84 s. The simulation counts outcomes
into buckets and evaluates after every step, as the service does.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portico_common.clock import ManualClock
from portico_slo.domain.detection import simulate, workbook_detection_seconds
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.tiers import AlertPolicy, workbook_factor

# (error rate, evaluation step in seconds)
RATES = [(1.0, 1), (0.5, 1), (0.1, 1), (0.05, 10), (0.02, 10), (0.01, 10), (0.005, 60)]


def slo(objective: float = 0.999, window_seconds: int = 0) -> SloDefinition:
    return SloDefinition.with_defaults(
        slo_id="slo-1",
        tenant_id="acme",
        plugin="@acme/p",
        version="1.0.0",
        objective=objective,
        window_seconds=window_seconds,
    )


def test_page_fires_after_51_8_seconds_of_total_failure() -> None:
    """100% errors on a 99.9% SLO: the 1h/5m page fires 51.84 s in, within one 1 s step."""
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    definition = slo()
    [page, *_] = simulate(
        definition, 1.0, now=clock.now, advance=lambda s: clock.advance(seconds=s), step_seconds=1
    )

    assert page.tier == "page-1h"
    assert page.workbook_seconds == pytest.approx(51.84)
    assert page.measured_seconds is not None
    assert abs(page.measured_seconds - 51.84) <= 1


@pytest.mark.parametrize(("error_rate", "step"), RATES)
def test_every_tier_matches_the_workbook(error_rate: float, step: int) -> None:
    """Each tier fires within one step of the workbook's time, or never when it says never."""
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    results = simulate(
        slo(),
        error_rate,
        now=clock.now,
        advance=lambda s: clock.advance(seconds=s),
        step_seconds=step,
    )

    assert [r.tier for r in results] == ["page-1h", "page-6h", "ticket-1d", "ticket-3d"]
    for result in results:
        if result.workbook_seconds is None:
            assert result.measured_seconds is None, result
        else:
            assert result.measured_seconds is not None, result
            assert abs(result.measured_seconds - result.workbook_seconds) <= step, result


def test_workbook_formula_values() -> None:
    """The formula's table for 100% errors: 51.84 s, 129.6 s, 259.2 s, 259.2 s."""
    tiers = slo().alerting.tiers
    assert [workbook_detection_seconds(t, 0.999, 1.0) for t in tiers] == pytest.approx(
        [51.84, 129.6, 259.2, 259.2]
    )
    # 1% errors burn at 10: under the page's 14.4, so it never fires.
    assert workbook_detection_seconds(tiers[0], 0.999, 0.01) is None


@pytest.mark.parametrize(
    ("days", "factors"),
    [
        (30, [14.4, 6.0, 3.0, 1.0]),
        (28, [13.44, 5.6, 2.8, 0.933333333]),
        (90, [43.2, 18.0, 9.0, 3.0]),
        (7, [3.36, 1.4, 0.7, 0.233333333]),
    ],
)
def test_factors_scale_with_the_period(days: int, factors: list[float]) -> None:
    """Budget shares and windows stay; the factor is share * period / long window."""
    policy = AlertPolicy.workbook(days * 86_400)
    assert [t.factor for t in policy.tiers] == pytest.approx(factors)
    assert workbook_factor(0.02, 30 * 86_400, 3_600) == 14.4


def test_tiers_longer_than_the_period_are_left_out() -> None:
    """A 1-day SLO has no 3-day tier; a 2-hour one only the hour page, at 0.04."""
    assert [t.name for t in AlertPolicy.workbook(86_400).tiers] == [
        "page-1h",
        "page-6h",
        "ticket-1d",
    ]
    assert [(t.name, t.factor) for t in AlertPolicy.workbook(7_200).tiers] == [("page-1h", 0.04)]


def test_disabled_tiers_never_fire() -> None:
    """A disabled tier is kept in the policy but never judged."""
    definition = slo()
    quiet = AlertPolicy.workbook(30 * 86_400, disabled=frozenset({"page-1h", "ticket-3d"}))
    assert [t.name for t in quiet.enabled] == ["page-6h", "ticket-1d"]
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    from dataclasses import replace

    results = simulate(
        replace(definition, alerting=quiet),
        1.0,
        now=clock.now,
        advance=lambda s: clock.advance(seconds=s),
        step_seconds=1,
    )
    assert [r.tier for r in results] == ["page-6h", "ticket-1d"]
