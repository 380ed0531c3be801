"""In-memory adapters of the slo ports: the fakes unit tests wire in through `build`.

Built on the kernel's in-memory unit of work, they keep the promises the
Postgres adapters keep, so the same contract tests run against both: a
transaction commits all or nothing, events reach the sink only on commit, a
tenant sees only its own rows (ALL_TENANTS sees every row), and transactions
run one at a time (a stronger form of the row lock).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from portico_common import memory_uow
from portico_common.clock import Clock
from portico_slo.adapters.messages import to_message
from portico_slo.app.ports import SloRecord, UnitOfWorkFactory
from portico_slo.domain.buckets import prune, window_counts
from portico_slo.domain.burn_rate import Counts
from portico_slo.domain.events import SloEvent
from portico_slo.domain.objective import SloDefinition

# (tenant_id, slo_id) -> bucket start -> counts
Buckets = dict[tuple[str, str], dict[int, Counts]]


@dataclass
class MemoryTables:
    """Both tables, as plain containers."""

    slos: dict[str, SloRecord] = field(default_factory=dict)
    buckets: Buckets = field(default_factory=dict)


class MemoryUnitOfWork(memory_uow.MemoryUnitOfWork[MemoryTables]):
    """One in-memory transaction with slo's repositories."""

    def __init__(self, state: MemoryTables, tenant_id: str, clock: Clock) -> None:
        super().__init__(state, tenant_id, clock)
        self.slos = MemorySloRepository(self)
        self.buckets = MemoryOutcomeBuckets(self)

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


class MemorySloRepository:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow
        self._slos = uow.state.slos

    async def add(self, slo: SloRecord) -> bool:
        self._uow.check_write(slo.tenant_id)
        if slo.slo_id in self._slos:
            raise ValueError(f"duplicate slo_id {slo.slo_id}")
        taken = any(
            (s.tenant_id, s.definition.plugin, s.definition.version)
            == (slo.tenant_id, slo.definition.plugin, slo.definition.version)
            for s in self._slos.values()
        )
        if taken:
            return False
        self._slos[slo.slo_id] = replace(slo, status=replace(slo.status))
        return True

    async def get(self, tenant_id: str, slo_id: str) -> SloRecord | None:
        slo = self._slos.get(slo_id)
        if slo is None or slo.tenant_id != tenant_id or not self._uow.sees(slo.tenant_id):
            return None
        return _copy(slo)

    async def find(self, tenant_id: str, plugin: str, version: str) -> SloRecord | None:
        for slo in self._slos.values():
            if (
                self._uow.sees(slo.tenant_id)
                and slo.tenant_id == tenant_id
                and (slo.definition.plugin, slo.definition.version) == (plugin, version)
            ):
                return _copy(slo)
        return None

    async def lock(self, tenant_id: str, plugin: str, version: str) -> SloRecord | None:
        # Transactions on the store run one at a time, so finding is locking.
        return await self.find(tenant_id, plugin, version)

    async def save(self, slo: SloRecord) -> None:
        current = self._slos.get(slo.slo_id)
        if current is None or not self._uow.sees(current.tenant_id):
            return  # an UPDATE that matches no visible row
        self._slos[slo.slo_id] = replace(
            current,
            status=replace(slo.status),
            short_window_burn_rate=slo.short_window_burn_rate,
            long_window_burn_rate=slo.long_window_burn_rate,
            evaluated_at=slo.evaluated_at,
        )


def _copy(slo: SloRecord) -> SloRecord:
    # SloStatus is mutable: a caller changing what it read must not change the row.
    return replace(slo, status=replace(slo.status))


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

    async def window_counts(self, slo: SloRecord, now: datetime) -> tuple[Counts, Counts]:
        buckets = self._visible(slo)
        d = slo.definition
        return (
            window_counts(buckets, now, d.short_window_seconds, slo.bucket_seconds),
            window_counts(buckets, now, d.long_window_seconds, slo.bucket_seconds),
        )

    async def all_window_counts(self, now: datetime) -> list[tuple[SloRecord, Counts, Counts]]:
        return [
            (_copy(slo), *await self.window_counts(slo, now))
            for slo in self._state.slos.values()
            if self._uow.sees(slo.tenant_id)
        ]

    async def prune(self, now: datetime) -> int:
        removed = 0
        for slo in self._state.slos.values():
            key = (slo.tenant_id, slo.slo_id)
            if not self._uow.sees(slo.tenant_id) or key not in self._state.buckets:
                continue
            before = self._state.buckets[key]
            kept = prune(before, now, slo.definition.long_window_seconds, slo.bucket_seconds)
            removed += len(before) - len(kept)
            self._state.buckets[key] = kept
        return removed

    def _visible(self, slo: SloRecord) -> dict[int, Counts]:
        if not self._uow.sees(slo.tenant_id):
            return {}
        return self._state.buckets.get((slo.tenant_id, slo.slo_id), {})


class MemoryBurnRates:
    """A BurnRateGauge that remembers the last (short, long) burn rates per SLO."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[float, float]] = {}

    def set(self, definition: SloDefinition, short_burn: float, long_burn: float) -> None:
        self.values[definition.slo_id] = (short_burn, long_burn)
