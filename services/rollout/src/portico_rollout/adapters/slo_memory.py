"""An in-memory slo for unit tests: SLOs ensured on demand, outcomes recorded and summed.

It answers like the real GetVersionOutcomes: per version, the whole range and
one interval per step (empty ones included), with exact percentiles instead
of a histogram's. Tests put outcomes in with `report`, give a version a
steady flow of good outcomes in every interval asked for with `steady`, or
make every call fail with `unavailable`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from portico_rollout.app.ports import OpenBreaker, VersionSlo
from portico_rollout.domain.evidence import IntervalOutcomes, VersionOutcomes
from portico_rollout.errors import SloRefusedError, SloUnavailableError


@dataclass(frozen=True, slots=True)
class Served:
    """One request a version served."""

    at: datetime
    success: bool
    latency_ms: int


def _percentile(latencies: list[int], q: float) -> float:
    if not latencies:
        return 0.0
    ordered = sorted(latencies)
    return float(ordered[max(0, math.ceil(q * len(ordered)) - 1)])


def _interval(start: datetime, served: list[Served]) -> IntervalOutcomes:
    latencies = [s.latency_ms for s in served]
    return IntervalOutcomes(
        start=start,
        total=len(served),
        errors=sum(not s.success for s in served),
        latency_mean_ms=sum(latencies) / len(latencies) if latencies else 0.0,
        latency_p50_ms=_percentile(latencies, 0.50),
        latency_p95_ms=_percentile(latencies, 0.95),
        latency_p99_ms=_percentile(latencies, 0.99),
    )


@dataclass
class MemorySlo:
    """The fake: `ensured` lists every EnsureVersionSlo, `asked` every outcome query."""

    outcomes_of: dict[tuple[str, str, str], list[Served]] = field(default_factory=dict)
    ensured: list[tuple[str, str, str, str]] = field(default_factory=list)
    asked: list[tuple[str, str, tuple[str, ...], datetime, datetime, int]] = field(
        default_factory=list
    )
    burn_rates: dict[tuple[str, str, str], float] = field(default_factory=dict)
    templates: set[str] = field(default_factory=lambda: {""})
    unavailable: bool = False
    # (tenant, plugin, version) -> good outcomes in each interval of any query.
    steady_of: dict[tuple[str, str, str], int] = field(default_factory=dict)
    # (tenant, plugin, version) -> how slo judged the version's SLO last.
    states: dict[tuple[str, str, str], VersionSlo] = field(default_factory=dict)
    # (tenant, plugin, version) -> its breakers that permit no call.
    breakers: dict[tuple[str, str, str], tuple[OpenBreaker, ...]] = field(default_factory=dict)

    def judged(
        self,
        tenant_id: str,
        plugin: str,
        version: str,
        evaluated_at: datetime,
        *,
        violated_at: datetime | None = None,
        firing: Sequence[str] = (),
    ) -> None:
        """slo judged the version's SLO at `evaluated_at`: burning since `violated_at`, or OK."""
        self.states[tenant_id, plugin, version] = VersionSlo(
            f"slo-{plugin}@{version}", evaluated_at, violated_at, tuple(firing)
        )

    def breaker_open(self, tenant_id: str, plugin: str, version: str, *open_: OpenBreaker) -> None:
        """From now on these breakers of the version are open (none: all closed)."""
        self.breakers[tenant_id, plugin, version] = open_

    def steady(self, tenant_id: str, plugin: str, version: str, per_interval: int = 10) -> None:
        """From now on the version serves `per_interval` good outcomes in every interval."""
        self.steady_of[tenant_id, plugin, version] = per_interval

    def report(
        self,
        tenant_id: str,
        plugin: str,
        version: str,
        at: datetime,
        *,
        good: int = 0,
        bad: int = 0,
        latency_ms: int = 50,
        spread: timedelta = timedelta(0),
    ) -> None:
        """`good` and `bad` outcomes of a version, spread evenly from `at` over `spread`."""
        served = self.outcomes_of.setdefault((tenant_id, plugin, version), [])
        count = good + bad
        for i in range(count):
            offset = spread * i / count if count else timedelta(0)
            served.append(Served(at + offset, i >= bad, latency_ms))

    async def ensure_version_slo(
        self, tenant_id: str, plugin: str, version: str, template: str
    ) -> VersionSlo:
        if self.unavailable:
            raise SloUnavailableError(f"ensure an SLO for {plugin}@{version}", "UNAVAILABLE")
        if template not in self.templates:
            raise SloRefusedError(f"ensure an SLO for {plugin}@{version}", "NOT_FOUND: template")
        self.ensured.append((tenant_id, plugin, version, template))
        return self.states.get((tenant_id, plugin, version), VersionSlo(f"slo-{plugin}@{version}"))

    async def open_breakers(
        self, tenant_id: str, plugin: str, version: str
    ) -> tuple[OpenBreaker, ...]:
        if self.unavailable:
            raise SloUnavailableError(f"list the breakers of {plugin}@{version}", "UNAVAILABLE")
        return self.breakers.get((tenant_id, plugin, version), ())

    async def outcomes(
        self,
        tenant_id: str,
        plugin: str,
        versions: Sequence[str],
        *,
        start: datetime,
        end: datetime,
        step_seconds: int,
    ) -> list[VersionOutcomes]:
        if self.unavailable:
            raise SloUnavailableError(f"report the outcomes of {plugin}", "UNAVAILABLE")
        self.asked.append((tenant_id, plugin, tuple(versions), start, end, step_seconds))
        step = timedelta(seconds=step_seconds or max(1, int((end - start).total_seconds())))
        found = []
        for version in versions:
            served = [
                s
                for s in self.outcomes_of.get((tenant_id, plugin, version), [])
                if start <= s.at < end
            ]
            steady = self.steady_of.get((tenant_id, plugin, version), 0)
            at = start
            while steady and at < end:
                served += [Served(at, success=True, latency_ms=50)] * steady
                at += step
            whole = _interval(start, served)
            intervals = []
            at = start
            while at < end:
                intervals.append(_interval(at, [s for s in served if at <= s.at < at + step]))
                at += step
            found.append(
                VersionOutcomes(
                    version=version,
                    total=whole.total,
                    errors=whole.errors,
                    latency_p95_ms=whole.latency_p95_ms,
                    latency_p99_ms=whole.latency_p99_ms,
                    burn_rate=self.burn_rates.get((tenant_id, plugin, version), 0.0),
                    slo_id=f"slo-{plugin}@{version}",
                    intervals=tuple(intervals),
                )
            )
        return found
