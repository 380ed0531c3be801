"""What an SLO promises for a plugin version, and how its burn-rate alert is tuned."""

from __future__ import annotations

import math
from dataclasses import dataclass

from portico_slo.domain._numbers import at_least
from portico_slo.errors import InvalidObjectiveError, InvalidSloDefinitionError, InvalidWindowError

# The SRE workbook's page-worthy rule: 2% of a 30-day budget burnt in one hour.
DEFAULT_WINDOW_SECONDS = 30 * 24 * 3600
DEFAULT_BURN_RATE_THRESHOLD = 14.4
DEFAULT_SHORT_WINDOW_SECONDS = 300
DEFAULT_LONG_WINDOW_SECONDS = 3600
# Below this many events a few failures are noise, not a trend.
DEFAULT_MIN_EVENTS = 10


@dataclass(frozen=True, slots=True)
class SloDefinition:
    """An objective over a window, and the multiwindow burn-rate rule that pages on it.

    Construction validates, so a definition read back from a row is checked too.
    `latency_threshold_ms` of 0 means latency is not judged, only success.
    """

    slo_id: str
    tenant_id: str
    plugin: str
    version: str
    objective: float
    window_seconds: int
    latency_threshold_ms: int = 0
    burn_rate_threshold: float = DEFAULT_BURN_RATE_THRESHOLD
    short_window_seconds: int = DEFAULT_SHORT_WINDOW_SECONDS
    long_window_seconds: int = DEFAULT_LONG_WINDOW_SECONDS
    min_events: int = DEFAULT_MIN_EVENTS

    def __post_init__(self) -> None:
        for name in ("slo_id", "tenant_id", "plugin", "version"):
            if not getattr(self, name):
                raise InvalidSloDefinitionError(name, "must not be empty")
        if not (math.isfinite(self.objective) and 0 < self.objective < 1):
            raise InvalidObjectiveError("objective", f"{self.objective} is not between 0 and 1")
        self._check_windows()
        if self.latency_threshold_ms < 0:
            raise InvalidSloDefinitionError(
                "latency_threshold_ms", f"{self.latency_threshold_ms} is negative"
            )
        if self.min_events < 1:
            raise InvalidSloDefinitionError("min_events", f"{self.min_events} is below 1")
        self._check_threshold()

    @classmethod
    def with_defaults(
        cls,
        *,
        slo_id: str,
        tenant_id: str,
        plugin: str,
        version: str,
        objective: float,
        window_seconds: int = 0,
        latency_threshold_ms: int = 0,
        burn_rate_threshold: float = 0.0,
        short_window_seconds: int = 0,
        long_window_seconds: int = 0,
        min_events: int = 0,
    ) -> SloDefinition:
        """Build from request fields, where 0 means "not set" as in proto3, then validate."""
        return cls(
            slo_id=slo_id,
            tenant_id=tenant_id,
            plugin=plugin,
            version=version,
            objective=objective,
            window_seconds=window_seconds or DEFAULT_WINDOW_SECONDS,
            latency_threshold_ms=latency_threshold_ms,
            burn_rate_threshold=burn_rate_threshold or DEFAULT_BURN_RATE_THRESHOLD,
            short_window_seconds=short_window_seconds or DEFAULT_SHORT_WINDOW_SECONDS,
            long_window_seconds=long_window_seconds or DEFAULT_LONG_WINDOW_SECONDS,
            min_events=min_events or DEFAULT_MIN_EVENTS,
        )

    @property
    def error_budget(self) -> float:
        """The share of events allowed to be bad over the window."""
        return 1 - self.objective

    @property
    def rule(self) -> str:
        """The alert rule in words, e.g. "burn rate >= 14.4 over 5m and 1h"."""
        return (
            f"burn rate >= {self.burn_rate_threshold:g} over "
            f"{format_duration(self.short_window_seconds)} and "
            f"{format_duration(self.long_window_seconds)}"
        )

    def _check_windows(self) -> None:
        short, long, window = (
            self.short_window_seconds,
            self.long_window_seconds,
            self.window_seconds,
        )
        if window <= 0:
            raise InvalidWindowError("window_seconds", f"{window} is not positive")
        if short <= 0:
            raise InvalidWindowError("short_window_seconds", f"{short} is not positive")
        if short >= long:
            raise InvalidWindowError(
                "short_window_seconds", f"{short} is not shorter than the long window {long}"
            )
        if long > window:
            raise InvalidWindowError(
                "long_window_seconds", f"{long} is longer than the SLO window {window}"
            )

    def _check_threshold(self) -> None:
        threshold = self.burn_rate_threshold
        if not (math.isfinite(threshold) and threshold > 0):
            raise InvalidObjectiveError("burn_rate_threshold", f"{threshold} is not positive")
        # With every event bad the burn rate is 1 / budget; a higher threshold never trips.
        ceiling = 1 / self.error_budget
        if not at_least(ceiling, threshold):
            raise InvalidObjectiveError(
                "burn_rate_threshold",
                f"{threshold:g} can never trip: with objective {self.objective:g} "
                f"the burn rate is at most {ceiling:g}",
            )


def format_duration(seconds: int) -> str:
    """Seconds in the largest whole unit: 300 -> "5m", 3600 -> "1h", 90 -> "90s"."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
