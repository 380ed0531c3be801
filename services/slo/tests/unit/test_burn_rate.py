"""How outcomes are judged and how the multiwindow burn-rate rule trips."""

from __future__ import annotations

import pytest

from portico_slo.domain.burn_rate import (
    Counts,
    Evaluation,
    WindowSummary,
    burn_rate,
    classify,
    evaluate,
)
from portico_slo.domain.objective import SloDefinition
from portico_slo.errors import InvalidObjectiveError, InvalidOutcomeError


@pytest.mark.parametrize(
    ("success", "latency", "threshold", "good"),
    [
        (True, 120, 300, True),
        (True, 300, 300, True),
        (True, 301, 300, False),
        (False, 5, 300, False),
        (True, 90_000, 0, True),
        (False, 1, 0, False),
    ],
)
def test_classify(success: bool, latency: int, threshold: int, good: bool) -> None:
    """Good means successful and, if latency is judged, no slower than the threshold."""
    assert classify(success, latency, threshold) is good


def test_negative_latency_is_refused() -> None:
    """A negative latency is a reporting bug and is rejected."""
    with pytest.raises(InvalidOutcomeError, match="negative"):
        classify(True, -1, 300)


def test_burn_rate_is_error_rate_over_budget() -> None:
    """5% errors against a 99% objective burn the budget five times too fast."""
    assert burn_rate(95, 5, 0.99) == pytest.approx(5.0)
    assert burn_rate(0, 10, 0.99) == pytest.approx(100.0)
    assert burn_rate(1000, 0, 0.99) == 0.0


def test_burn_rate_without_events_is_zero() -> None:
    """No traffic burns no budget."""
    assert burn_rate(0, 0, 0.999) == 0.0


def test_burn_rate_checks_its_inputs() -> None:
    """An objective outside (0, 1) or negative counts are refused."""
    with pytest.raises(InvalidObjectiveError):
        burn_rate(1, 1, 1.0)
    with pytest.raises(InvalidOutcomeError):
        burn_rate(-1, 1, 0.99)


def test_counts_add_up() -> None:
    """Counts add field by field and know their total."""
    total = Counts(3, 1) + Counts(2, 4) + Counts.of(False)
    assert total == Counts(good=5, bad=6)
    assert total.total == 11


def evaluate_page(definition: SloDefinition, short: Counts, long: Counts) -> Evaluation:
    """The page tier's windows (5m, 1h) holding `short` and `long`; the other windows empty."""
    return evaluate(definition, {300: WindowSummary(short), 3600: WindowSummary(long)})


def test_both_windows_burning_trips(definition: SloDefinition) -> None:
    """With both windows at 20% errors (burn 20 >= 14.4) the rule trips."""
    result = evaluate_page(definition, Counts(80, 20), Counts(800, 200))
    assert result.short_burn == pytest.approx(20.0)
    assert result.long_burn == pytest.approx(20.0)
    assert result.tripped
    page = result.of("page-1h")
    assert page is not None
    assert (page.burning, page.tripped) == (True, True)
    # The other tiers' windows hold nothing here, so they do not burn.
    assert [t.tier.name for t in result.tiers if t.tripped] == ["page-1h"]


def test_exactly_at_threshold_trips(definition: SloDefinition) -> None:
    """A burn rate exactly on the threshold trips despite float rounding in 1 - 0.99."""
    assert evaluate_page(definition, Counts(856, 144), Counts(856, 144)).tripped


def test_short_spike_alone_does_not_trip(definition: SloDefinition) -> None:
    """A short-window spike while the hour is healthy does not trip (no paging on a blip)."""
    result = evaluate_page(definition, Counts(50, 50), Counts(9_900, 50))
    assert result.short_burn >= 14.4
    assert result.long_burn < 14.4
    assert not result.tripped


def test_recovered_short_window_stops_tripping(definition: SloDefinition) -> None:
    """Once the last five minutes are clean the rule stops tripping, though the hour burned."""
    assert not evaluate_page(definition, Counts(100, 0), Counts(700, 300)).tripped


def test_too_few_events_do_not_trip(definition: SloDefinition) -> None:
    """Nine failures out of nine are below min_events and do not trip; ten do."""
    assert not evaluate_page(definition, Counts(0, 9), Counts(0, 9)).tripped
    assert evaluate_page(definition, Counts(0, 10), Counts(0, 10)).tripped


def test_each_tier_is_judged_on_its_own_windows(definition: SloDefinition) -> None:
    """Every enabled tier is judged against its own factor over its own pair of windows."""
    at_2_percent = WindowSummary(Counts(98, 2))  # burn 2 against a 99% objective
    windows = dict.fromkeys(definition.alerting.windows, at_2_percent)
    windows[21_600] = WindowSummary(Counts(93, 7))  # the 6h window burns 7
    result = evaluate(definition, windows)

    assert [(t.tier.name, t.burning) for t in result.tiers] == [
        ("page-1h", False),
        ("page-6h", False),  # its 30m window burns only 2 of the 6 it needs
        ("ticket-1d", False),
        ("ticket-3d", True),
    ]
    ticket = result.of("ticket-3d")
    assert ticket is not None
    assert ticket.short_burn == pytest.approx(7.0)


def test_timeslice_burn_counts_bad_slices(definition: SloDefinition) -> None:
    """Under Timeslices budgeting a window burns by its share of bad slices, not events."""
    from dataclasses import replace

    from portico_slo.domain.burn_rate import summary_burn
    from portico_slo.domain.indicator import BudgetingMethod

    sliced = replace(
        definition,
        budgeting=BudgetingMethod.TIMESLICES,
        timeslice_target=0.95,
        timeslice_seconds=60,
    )
    # Ten one-minute slices, one of them bad: 10% of slices against a 1% budget.
    summary = WindowSummary(Counts(900, 100), good_slices=9, bad_slices=1, ratio_sum=9.0)

    assert summary_burn(summary, sliced) == pytest.approx(10.0)
    assert summary_burn(summary, definition) == pytest.approx(10.0)  # events: also 10%
    ratio = replace(sliced, budgeting=BudgetingMethod.RATIO_TIMESLICES, timeslice_target=0.0)
    assert summary_burn(summary, ratio) == pytest.approx(10.0)  # average ratio 0.9
