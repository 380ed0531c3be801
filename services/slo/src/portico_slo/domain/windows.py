"""The SLO's time window: rolling (the last N) or aligned to a calendar.

A rolling window of 28 days ending now always holds the last 28 days. A
calendar window of one month starting 2022-01-01 00:00 in America/New_York
holds the current month as New York reckons it, restarting at each month's
first midnight there; `period` returns the one `now` falls in. Calendar
arithmetic is done on the local wall clock (so a "day" across a daylight
saving change has 23 or 25 hours), then turned into instants.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from portico_slo.domain._time import require_aware
from portico_slo.domain.durations import Duration
from portico_slo.errors import InvalidWindowError

# A calendar window without a start counts from the Unix epoch's midnight.
_DEFAULT_START = datetime(1970, 1, 1)  # noqa: DTZ001 - a wall-clock time, zoned below


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """The budgeting period of an SLO."""

    duration: Duration
    rolling: bool = True
    # Wall-clock start of one calendar period (no offset) and the zone it is read in.
    calendar_start: datetime | None = None
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        if self.rolling:
            if not self.duration.fixed:
                raise InvalidWindowError(
                    "time_window.duration",
                    f"a rolling window needs a fixed length (s, m, h, d, w); "
                    f"{self.duration} is calendar-only",
                )
            if self.calendar_start is not None:
                raise InvalidWindowError("time_window.calendar", "a rolling window has no calendar")
        if self.calendar_start is not None and self.calendar_start.tzinfo is not None:
            raise InvalidWindowError(
                "time_window.calendar.start_time",
                "is a wall-clock time without an offset; the zone goes in time_zone",
            )
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidWindowError(
                "time_window.calendar.time_zone",
                f"{self.time_zone!r} is not an IANA time zone name",
            ) from None

    @classmethod
    def rolling_seconds(cls, seconds: int) -> TimeWindow:
        if seconds <= 0:
            raise InvalidWindowError("window_seconds", f"{seconds} is not positive")
        return cls(Duration.of_seconds(seconds))

    @property
    def nominal_seconds(self) -> int:
        """The length used to scale burn-rate factors (30-day months)."""
        return self.duration.seconds

    def period(self, now: datetime) -> tuple[datetime, datetime]:
        """The [start, end) of the period `now` falls in; for rolling windows it ends at now."""
        require_aware(now, "now")
        if self.rolling:
            return now - timedelta(seconds=self.duration.seconds), now
        zone = ZoneInfo(self.time_zone)
        anchor = self.calendar_start or _DEFAULT_START
        local_now = now.astimezone(zone).replace(tzinfo=None)
        k = self._periods_between(anchor, local_now)
        start, end = self._shift(anchor, k), self._shift(anchor, k + 1)
        return _instant(start, zone), _instant(end, zone)

    def _periods_between(self, anchor: datetime, local_now: datetime) -> int:
        """The k with shift(anchor, k) <= local_now < shift(anchor, k + 1)."""
        d = self.duration
        if d.fixed:
            guess = int((local_now - anchor).total_seconds() // d.seconds)
        else:
            months = (local_now.year - anchor.year) * 12 + local_now.month - anchor.month
            guess = months // d.months
        while self._shift(anchor, guess) > local_now:
            guess -= 1
        while self._shift(anchor, guess + 1) <= local_now:
            guess += 1
        return guess

    def _shift(self, anchor: datetime, k: int) -> datetime:
        d = self.duration
        if d.fixed:
            return anchor + timedelta(seconds=k * d.seconds)
        return _add_months(anchor, k * d.months)


def _add_months(at: datetime, months: int) -> datetime:
    total = at.year * 12 + at.month - 1 + months
    year, month = divmod(total, 12)
    # A start on the 31st lands on the last day of shorter months.
    day = min(at.day, _days_in_month(year, month + 1))
    return at.replace(year=year, month=month + 1, day=day)


def _days_in_month(year: int, month: int) -> int:
    following = datetime(year + month // 12, month % 12 + 1, 1)  # noqa: DTZ001 - date arithmetic
    return (following - timedelta(days=1)).day


def _instant(local: datetime, zone: ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone).astimezone(UTC)
