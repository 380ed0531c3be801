"""OpenSLO's duration shorthand (`5m`, `1h`, `4w`, `1M`, `1Q`, `1Y`) and its seconds.

Minutes, hours, days and weeks have a fixed length; months, quarters and years
do not, so they only make sense for calendar-aligned windows (a "rolling month"
has no length). Portico also accepts seconds (`30s`) for canary windows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from portico_slo.errors import InvalidSloDefinitionError

FIXED_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
# Months per calendar unit; their nominal seconds use 30-day months.
CALENDAR_UNITS = {"M": 1, "Q": 3, "Y": 12}
_NOMINAL_MONTH = 30 * 86_400
_SHORTHAND = re.compile(r"([1-9][0-9]{0,5})([smhdwMQY])")


@dataclass(frozen=True, slots=True)
class Duration:
    """A positive whole number of one unit."""

    count: int
    unit: str

    def __post_init__(self) -> None:
        if self.count <= 0 or self.unit not in FIXED_UNITS | CALENDAR_UNITS:
            raise InvalidSloDefinitionError("duration", f"{self.count}{self.unit} is not valid")

    @property
    def fixed(self) -> bool:
        """True when the duration has one length whenever it starts."""
        return self.unit in FIXED_UNITS

    @property
    def seconds(self) -> int:
        """Exact for fixed units, nominal (30-day months) for calendar ones."""
        if self.fixed:
            return self.count * FIXED_UNITS[self.unit]
        return self.count * CALENDAR_UNITS[self.unit] * _NOMINAL_MONTH

    @property
    def months(self) -> int:
        """Whole months of a calendar unit (0 for fixed units)."""
        return self.count * CALENDAR_UNITS.get(self.unit, 0)

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"

    @classmethod
    def of_seconds(cls, seconds: int) -> Duration:
        """The largest whole unit: 300 -> 5m, 86400 -> 1d, 90 -> 90s."""
        for unit in ("w", "d", "h", "m"):
            size = FIXED_UNITS[unit]
            if seconds % size == 0 and seconds >= size:
                return cls(seconds // size, unit)
        return cls(seconds, "s")


def parse_duration(text: object, field: str) -> Duration:
    """`text` as a duration, or an error naming `field` and the accepted forms."""
    if isinstance(text, int) and not isinstance(text, bool):
        # OpenSLO reads a bare number of a timeSliceWindow as minutes.
        text = f"{text}m"
    if not isinstance(text, str) or not (match := _SHORTHAND.fullmatch(text)):
        raise InvalidSloDefinitionError(
            field, f"{text!r} is not a duration like 5m, 1h, 28d, 4w, 1M, 1Q or 1Y"
        )
    return Duration(int(match[1]), match[2])


def format_duration(seconds: int) -> str:
    """Seconds in the largest whole unit up to days: 300 -> "5m", 3600 -> "1h", 90 -> "90s"."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
