"""In-memory adapters of the slo ports: the fakes unit tests wire in through `build`.

Built on the kernel's in-memory unit of work, they keep the promises the
Postgres adapters keep, so the same contract tests run against both: a
transaction commits all or nothing, events reach the sink only on commit, a
tenant sees only its own rows (ALL_TENANTS sees every row), and transactions
run one at a time (a stronger form of the row lock).
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from portico_common import memory_uow
from portico_common.clock import Clock
from portico_slo.adapters.breakers_memory import MemoryBreakers
from portico_slo.adapters.memory_version_outcomes import MemoryVersionOutcomes, VersionTallies
from portico_slo.adapters.messages import to_message
from portico_slo.app.breakers_ports import BreakerRecord
from portico_slo.app.ports import (
    ActiveSummaries,
    SloFilter,
    SloRecord,
    UnitOfWorkFactory,
    ViolationRecord,
)
from portico_slo.domain.buckets import bucket_key, prune, summarize, window_span
from portico_slo.domain.burn_rate import Counts, WindowSummary
from portico_slo.domain.events import SloEvent, SloRecovered, SloViolated
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.retention import retention_seconds
from portico_slo.domain.slo import SloState
from portico_slo.domain.templates import SloTemplate

# (tenant_id, slo_id) -> bucket start -> counts
Buckets = dict[tuple[str, str], dict[int, Counts]]


@dataclass
class MemoryTables:
    """Every table, as plain containers."""

    slos: dict[str, SloRecord] = field(default_factory=dict)
    buckets: Buckets = field(default_factory=dict)
    # violation_id -> record, with its tenant
    violations: dict[str, tuple[str, ViolationRecord]] = field(default_factory=dict)
    # (tenant, name) -> template
    templates: dict[tuple[str, str], SloTemplate] = field(default_factory=dict)
    version_outcomes: VersionTallies = field(default_factory=dict)
    # breaker_id -> breaker
    breakers: dict[str, BreakerRecord] = field(default_factory=dict)


class MemoryUnitOfWork(memory_uow.MemoryUnitOfWork[MemoryTables]):
    """One in-memory transaction with slo's repositories."""

    def __init__(self, state: MemoryTables, tenant_id: str, clock: Clock) -> None:
        super().__init__(state, tenant_id, clock)
        self.slos = MemorySloRepository(self)
        self.buckets = MemoryOutcomeBuckets(self)
        self.violations = MemoryViolationLog(self)
        self.templates = MemoryTemplates(self)
        self.version_outcomes = MemoryVersionOutcomes(self)
        self.breakers = MemoryBreakers(self, state.breakers)

    async def publish(self, events: Sequence[SloEvent]) -> None:
        for event in events:
            await self.emit(to_message(event), subject=event.slo_id)


class MemoryStore(memory_uow.MemoryStore[MemoryTables, MemoryUnitOfWork]):
    """slo's committed tables, shared by every unit of work opened on it."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(
            MemoryTables(), lambda state, tenant: MemoryUnitOfWork(state, tenant, clock)
        )
        self.clock = clock
        # Opened, not only committed: tests prove bad input never gets this far.
        self.transactions = 0

    def uow_factory(self) -> UnitOfWorkFactory:
        return self.transaction

    @asynccontextmanager
    async def transaction(self, tenant_id: str) -> AsyncIterator[MemoryUnitOfWork]:
        """`open`, counted."""
        self.transactions += 1
        async with self.open(tenant_id) as uow:
            yield uow

    def bucket_counts(self, slo_id: str) -> dict[int, Counts]:
        """Committed buckets of one SLO, whatever its tenant (for assertions)."""
        found: dict[int, Counts] = {}
        for (_, sid), buckets in self.state.buckets.items():
            if sid == slo_id:
                found.update(buckets)
        return found


def _copy(slo: SloRecord) -> SloRecord:
    # SloStatus is mutable: a caller changing what it read must not change the row.
    return replace(slo, status=copy.deepcopy(slo.status))


class MemorySloRepository:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow
        self._slos = uow.state.slos

    def _visible(self, tenant_id: str) -> list[SloRecord]:
        return [
            s
            for s in self._slos.values()
            if s.tenant_id == tenant_id and self._uow.sees(s.tenant_id)
        ]

    async def add(self, slo: SloRecord) -> bool:
        self._uow.check_write(slo.tenant_id)
        if slo.slo_id in self._slos:
            raise ValueError(f"duplicate slo_id {slo.slo_id}")
        taken = any(
            (s.tenant_id, s.definition.name) == (slo.tenant_id, slo.definition.name)
            for s in self._slos.values()
        )
        if taken:
            return False
        self._slos[slo.slo_id] = _copy(slo)
        return True

    async def get(self, tenant_id: str, slo_id: str) -> SloRecord | None:
        slo = self._slos.get(slo_id)
        if slo is None or slo.tenant_id != tenant_id or not self._uow.sees(slo.tenant_id):
            return None
        return _copy(slo)

    async def by_name(self, tenant_id: str, name: str) -> SloRecord | None:
        found = [s for s in self._visible(tenant_id) if s.definition.name == name]
        return _copy(found[0]) if found else None

    async def lock(self, tenant_id: str, slo_id: str) -> SloRecord | None:
        # Transactions on the store run one at a time, so reading is locking.
        return await self.get(tenant_id, slo_id)

    async def matching(
        self, tenant_id: str, plugin: str, version: str, rollout_id: str = "", *, lock: bool
    ) -> list[SloRecord]:
        del lock  # transactions on the store run one at a time: reading is locking
        found = [
            s
            for s in self._visible(tenant_id)
            if s.definition.scope.matches(plugin, version, rollout_id)
        ]
        return [_copy(s) for s in sorted(found, key=lambda s: s.slo_id)]

    async def page(
        self, tenant_id: str, where: SloFilter, *, after: str, limit: int
    ) -> list[SloRecord]:
        def keep(s: SloRecord) -> bool:
            d = s.definition
            return (
                (not where.plugin or d.plugin == where.plugin)
                and (not where.version or d.version == where.version)
                and (where.scope is None or d.scope.kind is where.scope)
                and (not where.violated_only or s.status.state is SloState.VIOLATED)
                and d.name.startswith(where.name_prefix)
                and d.name > after
            )

        found = sorted(filter(keep, self._visible(tenant_id)), key=lambda s: s.definition.name)
        return [_copy(s) for s in found[:limit]]

    async def save(self, slo: SloRecord) -> None:
        current = self._slos.get(slo.slo_id)
        if current is None or not self._uow.sees(current.tenant_id):
            return  # an UPDATE that matches no visible row
        self._slos[slo.slo_id] = replace(
            current,
            status=copy.deepcopy(slo.status),
            short_window_burn_rate=slo.short_window_burn_rate,
            long_window_burn_rate=slo.long_window_burn_rate,
            evaluated_at=slo.evaluated_at,
            tier_burns=slo.tier_burns,
        )

    async def update(self, slo: SloRecord) -> None:
        current = self._slos.get(slo.slo_id)
        if current is None or not self._uow.sees(current.tenant_id):
            return
        self._uow.check_write(slo.tenant_id)
        self._slos[slo.slo_id] = _copy(slo)

    async def delete(self, tenant_id: str, slo_id: str) -> bool:
        slo = await self.get(tenant_id, slo_id)
        if slo is None:
            return False
        del self._slos[slo_id]
        self._uow.state.buckets.pop((tenant_id, slo_id), None)
        return True

    async def count_refused(self, tenant_id: str, slo_id: str, refused: int) -> None:
        slo = self._slos.get(slo_id)
        if slo is not None and slo.tenant_id == tenant_id and self._uow.sees(tenant_id):
            self._slos[slo_id] = replace(slo, refused_outcomes=slo.refused_outcomes + refused)

    async def set_pulled(self, tenant_id: str, slo_id: str, until: datetime) -> None:
        slo = self._slos.get(slo_id)
        if slo is not None and slo.tenant_id == tenant_id and self._uow.sees(tenant_id):
            self._slos[slo_id] = replace(slo, pulled_until=until)

    async def pulled(self) -> list[SloRecord]:
        return [
            _copy(s)
            for s in sorted(self._slos.values(), key=lambda s: s.slo_id)
            if self._uow.sees(s.tenant_id) and s.definition.indicator.pulled
        ]


class MemoryOutcomeBuckets:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow
        self._state = uow.state

    async def add(self, tenant_id: str, slo_id: str, counts: Mapping[int, Counts]) -> None:
        self._uow.check_write(tenant_id)
        slo = self._state.slos.get(slo_id)
        if slo is None or slo.tenant_id != tenant_id:
            raise LookupError(f"no SLO {slo_id} of tenant {tenant_id} (foreign key)")
        buckets = self._state.buckets.setdefault((tenant_id, slo_id), {})
        for key, add in counts.items():
            buckets[key] = buckets.get(key, Counts()) + add

    async def summaries(
        self, slo: SloRecord, spans: Sequence[tuple[int, int]]
    ) -> list[WindowSummary]:
        buckets = self._visible(slo)
        target = slo.definition.timeslice_target
        return [summarize(buckets, low, high, target) for low, high in spans]

    async def groups(
        self, slo: SloRecord, low: int, high: int, group_seconds: int
    ) -> dict[int, WindowSummary]:
        target = slo.definition.timeslice_target
        found: dict[int, WindowSummary] = {}
        for key, counts in self._visible(slo).items():
            if low < key <= high:
                group = key // group_seconds * group_seconds
                found[group] = found.get(group, WindowSummary()) + WindowSummary.of_bucket(
                    counts, target
                )
        return found

    async def all_summaries(
        self, now: datetime
    ) -> list[tuple[SloRecord, dict[int, WindowSummary]]]:
        rows = []
        for slo in sorted(self._state.slos.values(), key=lambda s: s.slo_id):
            if not self._uow.sees(slo.tenant_id):
                continue
            windows = slo.definition.alerting.windows
            spans = [window_span(now, w, slo.bucket_seconds) for w in windows]
            rows.append(
                (_copy(slo), dict(zip(windows, await self.summaries(slo, spans), strict=True)))
            )
        return rows

    async def active_summaries(self, now: datetime, burning: Collection[str]) -> ActiveSummaries:
        visible = [s for s in self._state.slos.values() if self._uow.sees(s.tenant_id)]
        rows = []
        for slo in sorted(visible, key=lambda s: s.slo_id):
            if not (
                slo.status.state is not SloState.OK
                or slo.status.tiers
                or slo.slo_id in burning
                or self._recent(slo, now)
            ):
                continue
            windows = slo.definition.alerting.windows
            spans = [window_span(now, w, slo.bucket_seconds) for w in windows]
            rows.append(
                (_copy(slo), dict(zip(windows, await self.summaries(slo, spans), strict=True)))
            )
        return ActiveSummaries(rows, len(visible))

    def _recent(self, slo: SloRecord, now: datetime) -> bool:
        """Whether the SLO has a bucket inside its longest alerting window ending at `now`."""
        windows = slo.definition.alerting.windows
        if not windows:
            return False
        low, high = window_span(now, max(windows), slo.bucket_seconds)
        return any(low < key <= high for key in self._visible(slo))

    async def prune(self, now: datetime) -> int:
        removed = 0
        for slo in self._state.slos.values():
            key = (slo.tenant_id, slo.slo_id)
            if not self._uow.sees(slo.tenant_id) or key not in self._state.buckets:
                continue
            before = self._state.buckets[key]
            keep = retention_seconds(slo.definition, slo.bucket_seconds)
            kept = prune(before, now, keep, slo.bucket_seconds)
            removed += len(before) - len(kept)
            self._state.buckets[key] = kept
        return removed

    def _visible(self, slo: SloRecord) -> dict[int, Counts]:
        if not self._uow.sees(slo.tenant_id):
            return {}
        return self._state.buckets.get((slo.tenant_id, slo.slo_id), {})


class MemoryViolationLog:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow
        self._rows = uow.state.violations

    async def record(self, violation: SloViolated) -> None:
        self._uow.check_write(violation.tenant_id)
        self._rows[violation.violation_id] = (violation.tenant_id, ViolationRecord(violation))

    async def resolve(self, recovery: SloRecovered) -> None:
        row = self._rows.get(recovery.violation_id)
        if row is not None and self._uow.sees(row[0]):
            tenant, record = row
            self._rows[recovery.violation_id] = (
                tenant,
                replace(record, recovered_at=recovery.recovered_at, recovered=recovery),
            )

    async def recent(self, tenant_id: str, slo_id: str, *, limit: int) -> list[ViolationRecord]:
        found = [
            record
            for tenant, record in self._rows.values()
            if tenant == tenant_id
            and self._uow.sees(tenant)
            and (not slo_id or record.violation.slo_id == slo_id)
        ]
        found.sort(key=lambda r: (r.violation.detected_at, r.violation.violation_id), reverse=True)
        return found[:limit]


class MemoryTemplates:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow
        self._rows = uow.state.templates

    async def put(self, tenant_id: str, template: SloTemplate, *, create: bool) -> bool:
        self._uow.check_write(tenant_id)
        exists = (tenant_id, template.name) in self._rows
        if exists == create:
            return False
        if template.is_default:
            for (tenant, name), other in list(self._rows.items()):
                if tenant == tenant_id and other.is_default:
                    self._rows[tenant, name] = replace(other, is_default=False)
        self._rows[tenant_id, template.name] = template
        return True

    async def get(self, tenant_id: str, name: str) -> SloTemplate | None:
        return self._rows.get((tenant_id, name)) if self._uow.sees(tenant_id) else None

    async def default(self, tenant_id: str) -> SloTemplate | None:
        return next((t for t in await self.all(tenant_id) if t.is_default), None)

    async def all(self, tenant_id: str) -> list[SloTemplate]:
        if not self._uow.sees(tenant_id):
            return []
        return sorted(
            (t for (tenant, _), t in self._rows.items() if tenant == tenant_id),
            key=lambda t: t.name,
        )

    async def delete(self, tenant_id: str, name: str) -> bool:
        if not self._uow.sees(tenant_id):
            return False
        return self._rows.pop((tenant_id, name), None) is not None


class MemoryBurnRates:
    """A BurnRateGauge that remembers the last (short, long) burn rates per SLO."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[float, float]] = {}

    def set(self, definition: SloDefinition, short_burn: float, long_burn: float) -> None:
        self.values[definition.slo_id] = (short_burn, long_burn)

    def burning(self) -> frozenset[str]:
        return frozenset(slo_id for slo_id, burns in self.values.items() if burns != (0.0, 0.0))


__all__ = ["MemoryBurnRates", "MemoryStore", "MemoryUnitOfWork", "bucket_key"]
