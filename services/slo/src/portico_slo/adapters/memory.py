"""In-memory adapters of the slo ports: the fakes unit tests wire in through the app layer.

They keep the promises the Postgres adapters keep, so the same contract tests
run against both: a transaction commits all or nothing, events reach the sink
only on commit, a tenant sees only its own rows (ALL_TENANTS sees every row),
and transactions run one at a time (a stronger form of the row lock).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime

from google.protobuf.message import Message

from portico_common.clock import Clock
from portico_common.db import ALL_TENANTS
from portico_common.uow import RecordingEventSink
from portico_slo.app.ports import SloRecord, UnitOfWorkFactory
from portico_slo.domain.buckets import prune, window_counts
from portico_slo.domain.burn_rate import Counts
from portico_slo.domain.objective import SloDefinition

# (tenant_id, slo_id) -> bucket start -> counts
Buckets = dict[tuple[str, str], dict[int, Counts]]


class MemoryStore:
    """The committed state, shared by every unit of work opened on it."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.slos: dict[str, SloRecord] = {}
        self.buckets: Buckets = {}
        self.events = RecordingEventSink()
        self.transactions = 0
        self._lock = asyncio.Lock()

    def uow_factory(self) -> UnitOfWorkFactory:
        return self.transaction

    @asynccontextmanager
    async def transaction(self, tenant_id: str) -> AsyncIterator[MemoryUnitOfWork]:
        if not tenant_id:
            raise ValueError("a transaction needs a tenant id (or ALL_TENANTS)")
        async with self._lock:
            self.transactions += 1
            uow = MemoryUnitOfWork(self, tenant_id)
            yield uow
            self.slos, self.buckets = uow.staged_slos, uow.staged_buckets
            for payload, subject in uow.pending_events:
                await self.events.emit(payload, subject=subject)

    def bucket_counts(self, slo_id: str) -> dict[int, Counts]:
        """Committed buckets of one SLO, whatever its tenant (for assertions)."""
        found: dict[int, Counts] = {}
        for (_, sid), buckets in self.buckets.items():
            if sid == slo_id:
                found.update(buckets)
        return found


class MemoryUnitOfWork:
    """Works on a private copy of the store; the copy replaces the store on commit."""

    def __init__(self, store: MemoryStore, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self._clock = store.clock
        # SloStatus is mutable, so each record gets its own.
        self.staged_slos = {k: replace(v, status=replace(v.status)) for k, v in store.slos.items()}
        self.staged_buckets: Buckets = {k: dict(v) for k, v in store.buckets.items()}
        self.pending_events: list[tuple[Message, str]] = []
        self._slos = MemorySloRepository(self)
        self._buckets = MemoryOutcomeBuckets(self)

    @property
    def slos(self) -> MemorySloRepository:
        return self._slos

    @property
    def buckets(self) -> MemoryOutcomeBuckets:
        return self._buckets

    @property
    def clock(self) -> Clock:
        return self._clock

    async def emit(self, payload: Message, *, subject: str = "") -> None:
        self.pending_events.append((payload, subject))

    def sees(self, tenant_id: str) -> bool:
        """Row-level security: a tenant's rows, or all of them for ALL_TENANTS."""
        return self.tenant_id in (tenant_id, ALL_TENANTS)


class MemorySloRepository:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    async def add(self, slo: SloRecord) -> bool:
        self._check_writable(slo.tenant_id)
        if slo.slo_id in self._uow.staged_slos:
            raise ValueError(f"duplicate slo_id {slo.slo_id}")
        taken = any(
            (s.tenant_id, s.definition.plugin, s.definition.version)
            == (slo.tenant_id, slo.definition.plugin, slo.definition.version)
            for s in self._uow.staged_slos.values()
        )
        if taken:
            return False
        self._uow.staged_slos[slo.slo_id] = replace(slo, status=replace(slo.status))
        return True

    async def get(self, tenant_id: str, slo_id: str) -> SloRecord | None:
        slo = self._uow.staged_slos.get(slo_id)
        if slo is None or slo.tenant_id != tenant_id or not self._uow.sees(slo.tenant_id):
            return None
        return slo

    async def find(self, tenant_id: str, plugin: str, version: str) -> SloRecord | None:
        for slo in self._uow.staged_slos.values():
            if (
                self._uow.sees(slo.tenant_id)
                and slo.tenant_id == tenant_id
                and (slo.definition.plugin, slo.definition.version) == (plugin, version)
            ):
                return slo
        return None

    async def lock(self, tenant_id: str, plugin: str, version: str) -> SloRecord | None:
        # Transactions on the store run one at a time, so finding is locking.
        return await self.find(tenant_id, plugin, version)

    async def save(self, slo: SloRecord) -> None:
        current = self._uow.staged_slos.get(slo.slo_id)
        if current is None or not self._uow.sees(current.tenant_id):
            return  # an UPDATE that matches no visible row
        self._uow.staged_slos[slo.slo_id] = replace(
            current,
            status=replace(slo.status),
            short_window_burn_rate=slo.short_window_burn_rate,
            long_window_burn_rate=slo.long_window_burn_rate,
            evaluated_at=slo.evaluated_at,
        )

    def _check_writable(self, tenant_id: str) -> None:
        if not self._uow.sees(tenant_id):
            raise PermissionError(f"row for tenant {tenant_id} violates row-level security")


class MemoryOutcomeBuckets:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    async def add(self, tenant_id: str, slo_id: str, counts: Mapping[int, Counts]) -> None:
        if not self._uow.sees(tenant_id):
            raise PermissionError(f"row for tenant {tenant_id} violates row-level security")
        slo = self._uow.staged_slos.get(slo_id)
        if slo is None or slo.tenant_id != tenant_id:
            raise LookupError(f"no SLO {slo_id} of tenant {tenant_id} (foreign key)")
        buckets = self._uow.staged_buckets.setdefault((tenant_id, slo_id), {})
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
            (slo, *await self.window_counts(slo, now))
            for slo in self._uow.staged_slos.values()
            if self._uow.sees(slo.tenant_id)
        ]

    async def prune(self, now: datetime) -> int:
        removed = 0
        for slo in self._uow.staged_slos.values():
            key = (slo.tenant_id, slo.slo_id)
            if not self._uow.sees(slo.tenant_id) or key not in self._uow.staged_buckets:
                continue
            before = self._uow.staged_buckets[key]
            kept = prune(before, now, slo.definition.long_window_seconds, slo.bucket_seconds)
            removed += len(before) - len(kept)
            self._uow.staged_buckets[key] = kept
        return removed

    def _visible(self, slo: SloRecord) -> dict[int, Counts]:
        if not self._uow.sees(slo.tenant_id):
            return {}
        return self._uow.staged_buckets.get((slo.tenant_id, slo.slo_id), {})


class MemoryBurnRates:
    """A BurnRateGauge that remembers the last (short, long) burn rates per SLO."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[float, float]] = {}

    def set(self, definition: SloDefinition, short_burn: float, long_burn: float) -> None:
        self.values[definition.slo_id] = (short_burn, long_burn)
