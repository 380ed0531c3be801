"""Durations and time windows: rolling, and calendar-aligned in a time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portico_slo.domain.durations import Duration, format_duration, parse_duration
from portico_slo.domain.windows import TimeWindow
from portico_slo.errors import InvalidSloDefinitionError, InvalidWindowError


@pytest.mark.parametrize(
    ("text", "seconds", "fixed"),
    [
        ("5m", 300, True),
        ("1h", 3600, True),
        ("28d", 2_419_200, True),
        ("2w", 1_209_600, True),
        ("1M", 2_592_000, False),
        ("1Q", 7_776_000, False),
        ("1Y", 31_104_000, False),
        ("30s", 30, True),
    ],
)
def test_shorthand_durations(text: str, seconds: int, fixed: bool) -> None:
    """OpenSLO's shorthand parses to its seconds (months nominally 30 days) and prints back."""
    duration = parse_duration(text, "f")
    assert (duration.seconds, duration.fixed, str(duration)) == (seconds, fixed, text)


@pytest.mark.parametrize("text", ["", "5", "0m", "1.5h", "5 m", "1mo", "-1d", None, True])
def test_bad_durations_name_the_field(text: object) -> None:
    """A malformed duration is refused with the field and the accepted forms."""
    with pytest.raises(InvalidSloDefinitionError, match="like 5m") as raised:
        parse_duration(text, "spec.timeWindow[0].duration")
    assert raised.value.field == "spec.timeWindow[0].duration"


def test_a_bare_number_is_minutes() -> None:
    """OpenSLO reads a bare number (as in timeSliceWindow: 5) as minutes."""
    assert parse_duration(5, "f") == Duration(5, "m")


def test_seconds_print_in_their_largest_unit() -> None:
    """Of seconds: the largest whole unit, up to weeks for durations and days for rules."""
    assert [str(Duration.of_seconds(s)) for s in (60, 3600, 86_400, 604_800, 90)] == [
        "1m",
        "1h",
        "1d",
        "1w",
        "90s",
    ]
    assert format_duration(604_800) == "7d"


def test_rolling_window_ends_now() -> None:
    """A rolling window is the last N, ending at now."""
    now = datetime(2026, 3, 15, 10, 30, tzinfo=UTC)
    start, end = TimeWindow(Duration(4, "w")).period(now)
    assert (start, end) == (datetime(2026, 2, 15, 10, 30, tzinfo=UTC), now)


def test_calendar_month_in_a_time_zone() -> None:
    """A calendar month in New York runs from its local midnight, across a DST change."""
    window = TimeWindow(
        Duration(1, "M"),
        rolling=False,
        calendar_start=datetime(2022, 1, 1),  # noqa: DTZ001 - a wall-clock start
        time_zone="America/New_York",
    )
    # 2026-03-20 is after the switch to daylight saving time (UTC-4); March 1 was UTC-5.
    start, end = window.period(datetime(2026, 3, 20, 12, tzinfo=UTC))
    assert start == datetime(2026, 3, 1, 5, tzinfo=UTC)
    assert end == datetime(2026, 4, 1, 4, tzinfo=UTC)
    # An instant before the local midnight of April 1 is still March.
    assert window.period(datetime(2026, 4, 1, 3, 59, tzinfo=UTC))[0] == start


def test_calendar_quarter_and_week_follow_their_start() -> None:
    """Quarters count from the start month; weeks from the start's weekday and hour."""
    quarter = TimeWindow(Duration(1, "Q"), rolling=False, calendar_start=datetime(2022, 2, 1))  # noqa: DTZ001
    assert quarter.period(datetime(2026, 7, 15, tzinfo=UTC)) == (
        datetime(2026, 5, 1, tzinfo=UTC),
        datetime(2026, 8, 1, tzinfo=UTC),
    )
    week = TimeWindow(
        Duration(1, "w"),
        rolling=False,
        calendar_start=datetime(2022, 1, 1, 12),  # noqa: DTZ001 - a Saturday noon
        time_zone="America/New_York",
    )
    start, end = week.period(datetime(2026, 3, 4, tzinfo=UTC))  # a Wednesday
    assert start == datetime(2026, 2, 28, 17, tzinfo=UTC)  # Saturday noon, UTC-5
    assert end == datetime(2026, 3, 7, 17, tzinfo=UTC)


def test_month_end_starts_clip_to_shorter_months() -> None:
    """A calendar month starting on the 31st lands on the last day of shorter months."""
    window = TimeWindow(Duration(1, "M"), rolling=False, calendar_start=datetime(2026, 1, 31))  # noqa: DTZ001
    start, end = window.period(datetime(2026, 3, 5, tzinfo=UTC))
    assert (start, end) == (datetime(2026, 2, 28, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))


@pytest.mark.parametrize(
    ("window", "field"),
    [
        (lambda: TimeWindow(Duration(1, "M")), "time_window.duration"),
        (
            lambda: TimeWindow(Duration(1, "d"), rolling=False, time_zone="Mars/Olympus"),
            "time_window.calendar.time_zone",
        ),
        (
            lambda: TimeWindow(
                Duration(1, "d"), rolling=False, calendar_start=datetime(2026, 1, 1, tzinfo=UTC)
            ),
            "time_window.calendar.start_time",
        ),
    ],
)
def test_bad_windows_name_the_field(window: object, field: str) -> None:
    """A rolling month, an unknown zone, or a start with an offset are refused."""
    with pytest.raises(InvalidWindowError) as raised:
        window()  # type: ignore[operator]
    assert raised.value.field == field
