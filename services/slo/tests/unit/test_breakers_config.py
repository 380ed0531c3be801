"""Breaker configuration: resilience4j's defaults, and what its CircuitBreakerConfigTest refuses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from portico_slo.domain.breakers_config import BreakerConfig, BreakerState, WindowType
from portico_slo.errors import InvalidBreakerError


def test_defaults_are_resilience4j_defaults() -> None:
    """CircuitBreakerConfig.ofDefaults(): 50%, 100%, 60 s, 10, 100, 100, 60 s, count-based."""
    config = BreakerConfig()
    assert config.failure_rate_threshold == 50
    assert config.slow_call_rate_threshold == 100
    assert config.wait_duration_in_open_state == timedelta(seconds=60)
    assert config.permitted_number_of_calls_in_half_open_state == 10
    assert config.minimum_number_of_calls == 100
    assert config.sliding_window_size == 100
    assert config.slow_call_duration_threshold == timedelta(seconds=60)
    assert config.sliding_window_type is WindowType.COUNT_BASED
    assert config.max_wait_duration_in_half_open_state == timedelta(0)
    assert config.transition_to_state_after_wait_duration is BreakerState.OPEN
    assert not config.automatic_transition_from_open_to_half_open_enabled


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"failure_rate_threshold": 0}, "failure_rate_threshold"),
        ({"failure_rate_threshold": 101}, "failure_rate_threshold"),
        ({"slow_call_rate_threshold": 0}, "slow_call_rate_threshold"),
        ({"slow_call_rate_threshold": 100.5}, "slow_call_rate_threshold"),
        ({"sliding_window_size": 0}, "sliding_window_size"),
        ({"sliding_window_size": 10_001}, "sliding_window_size"),
        (
            {"sliding_window_type": WindowType.TIME_BASED, "sliding_window_size": 3601},
            "sliding_window_size",
        ),
        ({"minimum_number_of_calls": 0}, "minimum_number_of_calls"),
        (
            {"permitted_number_of_calls_in_half_open_state": 0},
            "permitted_number_of_calls_in_half_open_state",
        ),
        ({"slow_call_duration_threshold": timedelta(0)}, "slow_call_duration_threshold"),
        ({"wait_duration_in_open_state": timedelta(0)}, "wait_duration_in_open_state"),
        ({"wait_duration_in_open_state": timedelta(days=8)}, "wait_duration_in_open_state"),
        ({"wait_duration_multiplier": 0.5}, "wait_duration_multiplier"),
        (
            {"max_wait_duration_in_half_open_state": timedelta(seconds=-1)},
            "max_wait_duration_in_half_open_state",
        ),
        (
            {"transition_to_state_after_wait_duration": BreakerState.HALF_OPEN},
            "transition_to_state_after_wait_duration",
        ),
    ],
)
def test_invalid_values_are_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    """Each out-of-range value is an InvalidArgument error that names its field."""
    with pytest.raises(InvalidBreakerError, match=f"invalid breaker {field}:") as caught:
        BreakerConfig(**changes)
    assert caught.value.field == field


def test_count_based_minimum_is_capped_by_the_window() -> None:
    """slidingWindow(5, 10, COUNT_BASED) judges after 5 calls; a time window keeps its 10."""
    assert (
        BreakerConfig(sliding_window_size=5, minimum_number_of_calls=10).effective_minimum_calls
        == 5
    )
    time_based = BreakerConfig(
        sliding_window_type=WindowType.TIME_BASED,
        sliding_window_size=5,
        minimum_number_of_calls=10,
    )
    assert time_based.effective_minimum_calls == 10
    assert time_based.half_open_minimum_calls == 10


def test_exponential_wait_is_capped_and_never_overflows() -> None:
    """The n-th opening waits wait * multiplier^(n-1), never past the cap, however large n is."""
    config = BreakerConfig(
        wait_duration_in_open_state=timedelta(seconds=5),
        wait_duration_multiplier=1.5,
        max_wait_duration_in_open_state=timedelta(minutes=1),
    )
    assert [config.wait_in_open(n).total_seconds() for n in (1, 2, 3)] == [5, 7.5, 11.25]
    assert config.wait_in_open(10_000) == timedelta(minutes=1)
    assert BreakerConfig().wait_in_open(50) == timedelta(seconds=60)
