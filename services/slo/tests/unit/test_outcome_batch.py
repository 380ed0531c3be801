"""A report's batch grouped by second counts exactly what counting outcome by outcome counts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from portico_slo.domain.batch import MICROS, OutcomeBatch, micros_of
from portico_slo.domain.buckets import bucket_key
from portico_slo.domain.burn_rate import Counts
from portico_slo.domain.indicator import Indicator, SliKind
from portico_slo.domain.ingest import OutcomeResult, judge_time
from portico_slo.domain.version_outcomes import LATENCY_BOUNDS_MS, Tally, tally, tally_sorted
from portico_slo.errors import InvalidOutcomeError

NOW = datetime(2025, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)
LATENESS, SKEW = 300, 60
INDICATORS = [
    Indicator(SliKind.RATIO),
    Indicator(SliKind.LATENCY, 200),
    Indicator(SliKind.RATIO_AND_LATENCY, 200),
    Indicator(SliKind.RATIO_AND_LATENCY, 1),
]

Outcome = tuple[bool, int, datetime | None]


def outcomes(seed: int, count: int = 600, *, spread_seconds: int = 400) -> list[Outcome]:
    """Random outcomes around NOW: late, early, unstamped, on bounds and at the limits."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    made: list[Outcome] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.1:
            at: datetime | None = None
        elif roll < 0.2:
            # Right at the lateness and skew limits, to the microsecond.
            edge = rng.choice([-LATENESS, SKEW]) * 1_000_000 + rng.choice([-1, 0, 1])
            at = NOW + timedelta(microseconds=edge)
        else:
            at = NOW - timedelta(microseconds=rng.randrange(-90, spread_seconds) * 1_000_003)
        latency = rng.choice([*LATENCY_BOUNDS_MS, 0, 1, 199, 200, 201, rng.randrange(0, 70_000)])
        made.append((rng.random() > 0.3, latency, at))
    return made


def expected_results(made: list[Outcome]) -> tuple[OutcomeResult, ...]:
    return tuple(
        judge_time(at or NOW, NOW, max_lateness_seconds=LATENESS, max_skew_seconds=SKEW)
        for _, _, at in made
    )


def accepted_of(made: list[Outcome]) -> list[tuple[bool, int, datetime]]:
    results = expected_results(made)
    return [
        (success, latency, at or NOW)
        for (success, latency, at), result in zip(made, results, strict=True)
        if result is OutcomeResult.ACCEPTED
    ]


@pytest.mark.parametrize("seed", range(6))
def test_results_are_judge_time_outcome_by_outcome(seed: int) -> None:
    """Each outcome's result is what judge_time says of it, unstamped ones judged at now."""
    made = outcomes(seed)
    accepted = OutcomeBatch.of(made).group().accept(NOW, LATENESS, SKEW)
    assert accepted.results == expected_results(made)
    assert accepted.refused == sum(r is not OutcomeResult.ACCEPTED for r in accepted.results)
    assert accepted.refused > 0
    assert accepted.count == len(accepted_of(made))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("bucket_seconds", [1, 10, 60])
@pytest.mark.parametrize(
    "indicator", INDICATORS, ids=lambda i: f"{i.kind}-{i.latency_threshold_ms}"
)
def test_counts_per_bucket_match_classifying_each(
    seed: int, bucket_seconds: int, indicator: Indicator
) -> None:
    """Good and bad per bucket are the indicator's classify summed outcome by outcome."""
    made = outcomes(seed)
    expected: dict[int, Counts] = {}
    for success, latency, at in accepted_of(made):
        key = bucket_key(at, bucket_seconds)
        expected[key] = expected.get(key, Counts()) + Counts.of(
            indicator.classify(success, latency)
        )
    accepted = OutcomeBatch.of(made).group().accept(NOW, LATENESS, SKEW)
    assert accepted.counts(indicator, bucket_seconds) == expected


@pytest.mark.parametrize("seed", range(6))
def test_tallies_match_the_outcome_by_outcome_tally(seed: int) -> None:
    """The per-second tallies (histograms by bisect) equal `tally` of the accepted outcomes."""
    made = outcomes(seed)
    accepted = OutcomeBatch.of(made).group().accept(NOW, LATENESS, SKEW)
    assert accepted.tallies() == tally((at, s, ms) for s, ms, at in accepted_of(made))


def test_tally_sorted_puts_a_latency_on_a_bound_in_that_bound_s_bucket() -> None:
    """A latency equal to a bound counts under it, one above it in the next bucket."""
    assert tally_sorted([10, 11], [70_000]) == Tally.of(True, 10) + Tally.of(True, 11) + Tally.of(
        False, 70_000
    )


@pytest.mark.parametrize("seed", range(6))
def test_in_time_order_is_a_stable_sort_of_the_accepted(seed: int) -> None:
    """The breaker gets the accepted outcomes oldest first, equal times in report order."""
    made = outcomes(seed)
    # Same-second and same-microsecond ties, so stability is tested.
    made += [(False, 5, NOW), (True, 6, None), (True, 7, NOW)]
    accepted = OutcomeBatch.of(made).group().accept(NOW, LATENESS, SKEW)
    expected = [
        (success, latency, micros_of(at) // MICROS)
        for success, latency, at in sorted(accepted_of(made), key=lambda o: o[2])
    ]
    assert list(accepted.in_time_order()) == expected


def test_one_accepted_outcome_is_given_in_time_order() -> None:
    """A batch that keeps a single outcome still hands the breaker that one outcome."""
    made: list[Outcome] = [(True, 5, NOW - timedelta(hours=1)), (False, 9, None)]
    accepted = OutcomeBatch.of(made).group().accept(NOW, LATENESS, SKEW)
    assert list(accepted.in_time_order()) == [(False, 9, micros_of(NOW) // MICROS)]


def test_unstamped_outcomes_join_the_second_of_now() -> None:
    """Outcomes without a time are counted in now's second, beside stamped ones of it."""
    made: list[Outcome] = [(True, 5, None), (False, 9, NOW.replace(microsecond=0))]
    accepted = OutcomeBatch.of(made).group().accept(NOW, LATENESS, SKEW)
    second = micros_of(NOW) // MICROS
    assert list(accepted.seconds) == [second]
    assert accepted.counts(Indicator(), 1) == {second: Counts(good=1, bad=1)}


def test_columns_of_unequal_length_are_refused() -> None:
    """A batch whose columns disagree on the number of outcomes is not a batch."""
    with pytest.raises(InvalidOutcomeError, match="one entry per outcome"):
        OutcomeBatch([True, False], [1], [None, None])


def test_micros_of_a_naive_time_is_refused() -> None:
    """A naive datetime has no epoch microsecond: it is refused, naming the outcome time."""
    with pytest.raises(InvalidOutcomeError, match="outcome time"):
        micros_of(datetime(2025, 1, 1))  # noqa: DTZ001 - naive on purpose


@pytest.mark.parametrize(
    ("inside", "outside", "refused"),
    [
        (-LATENESS * 1_000_000, -LATENESS * 1_000_000 - 1, OutcomeResult.TOO_LATE),
        (SKEW * 1_000_000, SKEW * 1_000_000 + 1, OutcomeResult.TOO_EARLY),
    ],
)
def test_a_second_straddling_a_limit_is_judged_outcome_by_outcome(
    inside: int, outside: int, refused: OutcomeResult
) -> None:
    """Within a second cut by the lateness or skew limit, a microsecond decides."""
    made: list[Outcome] = [
        (True, 5, NOW + timedelta(microseconds=inside)),
        (False, 5, NOW + timedelta(microseconds=outside)),
    ]
    accepted = OutcomeBatch.of(made).group().accept(NOW, LATENESS, SKEW)
    assert accepted.results == (OutcomeResult.ACCEPTED, refused)
    assert accepted.counts(Indicator(), 1) == {
        micros_of(made[0][2] or NOW) // MICROS: Counts(good=1, bad=0)
    }
