"""What a phase is judged on: the canary's and the baseline's outcomes in one window.

slo tallies outcomes per version; rollout asks for the canary version and the
stable version over the phase so far, whole and per interval. The intervals
are the judgment's samples (one value per interval and metric, NaN where an
interval had no outcome), as Kayenta's metric series are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from portico_rollout.domain._time import require_aware
from portico_rollout.errors import InvalidRolloutError


@dataclass(frozen=True, slots=True)
class IntervalOutcomes:
    """One version's outcomes in one interval."""

    start: datetime
    total: int
    errors: int
    latency_mean_ms: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p95_ms: float = 0.0
    latency_p99_ms: float = 0.0

    def __post_init__(self) -> None:
        require_aware(self.start, "interval start")
        if not 0 <= self.errors <= self.total:
            raise InvalidRolloutError("evidence", f"{self.errors} errors of {self.total} outcomes")

    def metric(self, name: str) -> float:
        """The interval's value of a judgment metric; NaN without outcomes."""
        if self.total == 0:
            return math.nan
        values = {
            "error_rate": self.errors / self.total,
            "latency_mean": self.latency_mean_ms,
            "latency_p50": self.latency_p50_ms,
            "latency_p95": self.latency_p95_ms,
            "latency_p99": self.latency_p99_ms,
        }
        return values[name]

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "total": self.total,
            "errors": self.errors,
            "latency_mean_ms": self.latency_mean_ms,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p95_ms": self.latency_p95_ms,
            "latency_p99_ms": self.latency_p99_ms,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IntervalOutcomes:
        return cls(
            start=datetime.fromisoformat(data["start"]),
            total=int(data["total"]),
            errors=int(data["errors"]),
            latency_mean_ms=float(data.get("latency_mean_ms", 0.0)),
            latency_p50_ms=float(data.get("latency_p50_ms", 0.0)),
            latency_p95_ms=float(data.get("latency_p95_ms", 0.0)),
            latency_p99_ms=float(data.get("latency_p99_ms", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class VersionOutcomes:
    """One version over the window: the whole, its SLO's burn rate, and each interval."""

    version: str
    total: int
    errors: int
    latency_p95_ms: float = 0.0
    latency_p99_ms: float = 0.0
    burn_rate: float = 0.0
    slo_id: str = ""
    intervals: tuple[IntervalOutcomes, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.errors <= self.total:
            raise InvalidRolloutError("evidence", f"{self.errors} errors of {self.total} outcomes")

    @property
    def error_rate(self) -> float:
        return self.errors / self.total if self.total else 0.0

    def samples(self, metric: str) -> list[float]:
        """One value per interval (NaN for an interval without outcomes)."""
        return [interval.metric(metric) for interval in self.intervals]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "total": self.total,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "latency_p95_ms": self.latency_p95_ms,
            "latency_p99_ms": self.latency_p99_ms,
            "burn_rate": self.burn_rate,
            "slo_id": self.slo_id,
            "intervals": [i.to_json() for i in self.intervals],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VersionOutcomes:
        return cls(
            version=str(data["version"]),
            total=int(data["total"]),
            errors=int(data["errors"]),
            latency_p95_ms=float(data.get("latency_p95_ms", 0.0)),
            latency_p99_ms=float(data.get("latency_p99_ms", 0.0)),
            burn_rate=float(data.get("burn_rate", 0.0)),
            slo_id=str(data.get("slo_id", "")),
            intervals=tuple(IntervalOutcomes.from_json(i) for i in data.get("intervals", ())),
        )


@dataclass(frozen=True, slots=True)
class Evidence:
    """The canary and (when a stable version serves the rest) the baseline in one window."""

    window_start: datetime
    window_end: datetime
    canary: VersionOutcomes
    baseline: VersionOutcomes | None = None

    def __post_init__(self) -> None:
        require_aware(self.window_start, "window start")
        require_aware(self.window_end, "window end")

    def samples(self, metric: str) -> tuple[Sequence[float], Sequence[float]]:
        """(baseline, canary) values of a metric, one per interval; no baseline: none."""
        baseline = self.baseline.samples(metric) if self.baseline is not None else []
        return baseline, self.canary.samples(metric)

    def to_json(self) -> dict[str, Any]:
        return {
            "window": {"start": self.window_start.isoformat(), "end": self.window_end.isoformat()},
            "canary": self.canary.to_json(),
            "baseline": self.baseline.to_json() if self.baseline is not None else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Evidence:
        """Reads `to_json` output back (as stored with a decision)."""
        try:
            baseline = data.get("baseline")
            return cls(
                window_start=datetime.fromisoformat(data["window"]["start"]),
                window_end=datetime.fromisoformat(data["window"]["end"]),
                canary=VersionOutcomes.from_json(data["canary"]),
                baseline=VersionOutcomes.from_json(baseline) if baseline else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidRolloutError("evidence", f"malformed stored evidence: {exc}") from exc
