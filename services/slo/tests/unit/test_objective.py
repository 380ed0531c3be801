"""How an SLO definition is defaulted, validated and described."""

from __future__ import annotations

from typing import Any

import pytest

from portico_common.errors import CATEGORIES
from portico_slo.domain.objective import SloDefinition, format_duration
from portico_slo.errors import (
    InvalidObjectiveError,
    InvalidSloDefinitionError,
    InvalidWindowError,
    SloError,
)

BASE: dict[str, Any] = {
    "slo_id": "slo-1",
    "tenant_id": "acme",
    "plugin": "@acme/p",
    "version": "1.0.0",
    "objective": 0.99,
    "window_seconds": 86_400,
}


def test_zero_fields_take_defaults() -> None:
    """Zero means unset: the workbook's 14.4 over 5m and 1h, 10 events, a 30-day window."""
    defn = SloDefinition.with_defaults(**(BASE | {"window_seconds": 0}))
    assert defn.burn_rate_threshold == 14.4
    assert defn.short_window_seconds == 300
    assert defn.long_window_seconds == 3600
    assert defn.min_events == 10
    assert defn.window_seconds == 30 * 24 * 3600
    assert defn.latency_threshold_ms == 0
    # With no alerting field set, all four workbook tiers guard it.
    assert [(t.name, t.factor) for t in defn.alerting.tiers] == [
        ("page-1h", 14.4),
        ("page-6h", 6.0),
        ("ticket-1d", 3.0),
        ("ticket-3d", 1.0),
    ]


def test_set_fields_are_kept() -> None:
    """Non-zero fields override the defaults."""
    defn = SloDefinition.with_defaults(
        **BASE,
        burn_rate_threshold=6,
        short_window_seconds=1800,
        long_window_seconds=21600,
        min_events=50,
        latency_threshold_ms=250,
    )
    assert defn.burn_rate_threshold == 6
    assert defn.short_window_seconds == 1800
    assert defn.long_window_seconds == 21600
    assert defn.min_events == 50
    assert defn.latency_threshold_ms == 250
    # Setting the rule asks for that one tier instead of the workbook's four.
    assert [t.name for t in defn.alerting.tiers] == ["custom"]


@pytest.mark.parametrize("objective", [0.0, 1.0, -0.5, 1.5, float("nan"), float("inf")])
def test_objective_must_be_a_fraction(objective: float) -> None:
    """An objective outside the open interval (0, 1) is refused."""
    with pytest.raises(InvalidObjectiveError, match="objective"):
        SloDefinition.with_defaults(**(BASE | {"objective": objective}))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"short_window_seconds": 3600}, "short_window_seconds"),
        ({"short_window_seconds": 7200}, "short_window_seconds"),
        ({"short_window_seconds": -5}, "short_window_seconds"),
        ({"long_window_seconds": 172_800}, "long_window_seconds"),
        ({"window_seconds": -1}, "window_seconds"),
    ],
)
def test_windows_must_nest(overrides: dict[str, int], field: str) -> None:
    """The short window must be shorter than the long one, which fits in the SLO window."""
    with pytest.raises(InvalidWindowError) as caught:
        SloDefinition.with_defaults(**(BASE | overrides))
    assert caught.value.field == field
    assert caught.value.code == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"slo_id": ""}, "slo_id"),
        ({"tenant_id": ""}, "tenant_id"),
        ({"latency_threshold_ms": -1}, "latency_threshold_ms"),
        ({"min_events": -3}, "min_events"),
        ({"burn_rate_threshold": -2.0}, "burn_rate_threshold"),
    ],
)
def test_other_fields_are_checked(overrides: dict[str, Any], field: str) -> None:
    """Empty ids and negative numbers are refused with the field named."""
    with pytest.raises(InvalidSloDefinitionError) as caught:
        SloDefinition.with_defaults(**(BASE | overrides))
    assert caught.value.field == field


def test_unreachable_threshold_is_refused() -> None:
    """A 90% objective caps the burn rate at 10, so a 14.4 threshold could never trip."""
    with pytest.raises(InvalidObjectiveError, match="at most 10"):
        SloDefinition.with_defaults(**(BASE | {"objective": 0.9, "window_seconds": 0}))


def test_threshold_equal_to_ceiling_is_allowed() -> None:
    """A threshold exactly at the ceiling (all events bad) is reachable and accepted."""
    defn = SloDefinition.with_defaults(**(BASE | {"objective": 0.9}), burn_rate_threshold=10)
    assert defn.burn_rate_threshold == 10


def test_rule_reads_like_the_workbook(definition: SloDefinition) -> None:
    """The rule text names the threshold and both windows in short units."""
    assert definition.rule == "burn rate >= 14.4 over 5m and 1h"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(300, "5m"), (3600, "1h"), (86_400, "1d"), (90, "90s"), (5400, "90m"), (21_600, "6h")],
)
def test_durations_use_the_largest_whole_unit(seconds: int, text: str) -> None:
    """Durations print in the largest unit that divides them."""
    assert format_duration(seconds) == text


def test_errors_share_a_base_and_a_code() -> None:
    """Every slo error is an SloError whose code is a status name the edge maps."""
    allowed = {
        "INVALID_ARGUMENT",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "FAILED_PRECONDITION",
        "UNAVAILABLE",
    }
    seen: set[type[SloError]] = set()
    pending = [SloError]
    while pending:
        cls = pending.pop()
        seen.add(cls)
        pending += cls.__subclasses__()
    assert len(seen) >= 7
    # The base has no code of its own: only the categorised errors are raised.
    assert {cls.code for cls in seen - {SloError}} <= allowed


def test_errors_take_their_code_from_one_kernel_category() -> None:
    """Each slo error extends exactly one kernel category and none restates `code`."""
    seen: list[type[SloError]] = []
    pending = [SloError]
    while pending:
        cls = pending.pop()
        seen.append(cls)
        pending += cls.__subclasses__()
    for cls in seen:
        assert "code" not in cls.__dict__, cls
    for cls in seen[1:]:
        assert sum(issubclass(cls, c) for c in CATEGORIES) == 1, cls
