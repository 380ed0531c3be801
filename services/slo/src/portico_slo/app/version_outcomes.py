"""The outcome series of plugin versions: what rollout judges a canary on.

Reported outcomes are tallied per version and second as they are counted for
the SLOs (`record`, inside the report's transaction); `series` reads them
back over a range, whole and per step, with the burn rate each version's own
SLOs saw over the same range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from portico_common.tenants import ALL_TENANTS, require_tenant_id
from portico_slo.app.ports import SloUnitOfWork, UnitOfWorkFactory
from portico_slo.app.validation import check_plugin, check_version
from portico_slo.domain.batch import Accepted
from portico_slo.domain.burn_rate import summary_burn
from portico_slo.domain.scope import ScopeKind
from portico_slo.domain.version_outcomes import (
    MAX_RANGE_SECONDS,
    Interval,
    SeriesRange,
    Tally,
    second_of,
)
from portico_slo.errors import InvalidSloDefinitionError

MAX_VERSIONS = 20
# Tallies are kept a day longer than the longest range anyone may ask for.
RETENTION_SECONDS = MAX_RANGE_SECONDS + 24 * 3600


@dataclass(frozen=True, slots=True)
class VersionSeries:
    """One version over a range: the whole, each step, and its SLOs' highest burn rate."""

    version: str
    summary: Tally
    intervals: list[Interval]
    burn_rate: float
    slo_id: str


async def record(
    tx: SloUnitOfWork, tenant_id: str, plugin: str, version: str, accepted: Accepted
) -> None:
    """Tallies a report's accepted outcomes per second, in the report's transaction."""
    if accepted.seconds:
        await tx.version_outcomes.add(tenant_id, plugin, version, accepted.tallies())


async def series(
    uow: UnitOfWorkFactory,
    *,
    tenant_id: str,
    plugin: str,
    versions: Sequence[str],
    start: datetime,
    end: datetime,
    step_seconds: int = 0,
) -> list[VersionSeries]:
    """Each version's outcomes in [start, end), in the order asked."""
    require_tenant_id(tenant_id)
    check_plugin(plugin)
    if not versions or len(versions) > MAX_VERSIONS:
        raise InvalidSloDefinitionError("versions", f"name 1..{MAX_VERSIONS} versions")
    for version in versions:
        check_version(version)
    span = SeriesRange.of(start, end, step_seconds)
    async with uow(tenant_id) as tx:
        seconds = await tx.version_outcomes.read(tenant_id, plugin, versions, span.start, span.end)
        found = []
        for version in versions:
            summary, intervals = span.series(seconds.get(version, {}))
            burn, slo_id = await _burn(tx, tenant_id, plugin, version, span)
            found.append(VersionSeries(version, summary, intervals, burn, slo_id))
    return found


async def _burn(
    tx: SloUnitOfWork, tenant_id: str, plugin: str, version: str, span: SeriesRange
) -> tuple[float, str]:
    """The highest burn rate among the version's own SLOs over the range (0 and "" if none)."""
    slos = [
        s
        for s in await tx.slos.matching(tenant_id, plugin, version, "", lock=False)
        if s.definition.scope.kind is ScopeKind.VERSION
    ]
    best, best_id = 0.0, ""
    # Bucket keys are their first second: (start - 1, end - 1] holds those starting in range.
    summaries = [(await tx.buckets.summaries(s, [(span.start - 1, span.end - 1)]))[0] for s in slos]
    for slo, summary in zip(slos, summaries, strict=True):
        burn = summary_burn(summary, slo.definition) if summary.events.total else 0.0
        if burn > best or not best_id:
            best, best_id = burn, slo.slo_id
    return best, best_id


async def prune(uow: UnitOfWorkFactory) -> int:
    """Deletes tallies older than the retention; returns how many."""
    async with uow(ALL_TENANTS) as tx:
        before = second_of(tx.clock.now() - timedelta(seconds=RETENTION_SECONDS))
        return await tx.version_outcomes.prune(before)
