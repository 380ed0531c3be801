"""In-memory adapter of the breaker port, on the kernel's in-memory unit of work.

It keeps the Postgres adapter's promises (the shared contract tests run on
both): one breaker per plugin version, tenants see only their own, events
reach the sink only when the transaction commits. A Breaker is mutable, so
rows are copied in and out: changing what was read changes nothing stored.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from google.protobuf.message import Message

from portico_slo.adapters.breakers_messages import breaker_message
from portico_slo.app.breakers_ports import BreakerFilter, BreakerRecord, breaker_name
from portico_slo.domain.breakers_events import BreakerEvent


class _Uow(Protocol):
    """What the repository needs of the kernel's MemoryUnitOfWork."""

    def sees(self, tenant_id: str) -> bool: ...

    def check_write(self, tenant_id: str) -> None: ...

    async def emit(self, payload: Message, *, subject: str = "") -> None: ...


def _copy(record: BreakerRecord) -> BreakerRecord:
    return replace(record, breaker=copy.deepcopy(record.breaker))


class MemoryBreakers:
    def __init__(self, uow: _Uow, rows: dict[str, BreakerRecord]) -> None:
        self._uow = uow
        self._rows = rows

    def _visible(self, tenant_id: str) -> list[BreakerRecord]:
        return [
            r for r in self._rows.values() if r.tenant_id == tenant_id and self._uow.sees(tenant_id)
        ]

    async def add(self, record: BreakerRecord) -> bool:
        self._uow.check_write(record.tenant_id)
        b = record.breaker
        if record.breaker_id in self._rows:
            raise ValueError(f"duplicate breaker_id {record.breaker_id}")
        if any(
            (r.tenant_id, r.breaker.plugin, r.breaker.version) == (b.tenant_id, b.plugin, b.version)
            for r in self._rows.values()
        ):
            return False
        self._rows[record.breaker_id] = _copy(record)
        return True

    async def get(self, tenant_id: str, breaker_id: str) -> BreakerRecord | None:
        found = self._rows.get(breaker_id)
        if found is None or found.tenant_id != tenant_id or not self._uow.sees(tenant_id):
            return None
        return _copy(found)

    async def lock(self, tenant_id: str, breaker_id: str) -> BreakerRecord | None:
        # Transactions on the store run one at a time, so reading is locking.
        return await self.get(tenant_id, breaker_id)

    async def for_version(
        self, tenant_id: str, plugin: str, version: str, *, lock: bool
    ) -> BreakerRecord | None:
        del lock  # transactions on the store run one at a time: reading is locking
        for record in self._visible(tenant_id):
            if (record.breaker.plugin, record.breaker.version) == (plugin, version):
                return _copy(record)
        return None

    async def page(
        self, tenant_id: str, where: BreakerFilter, *, after: str, limit: int
    ) -> list[BreakerRecord]:
        def keep(record: BreakerRecord) -> bool:
            b = record.breaker
            return (
                (not where.plugin or b.plugin == where.plugin)
                and (not where.version or b.version == where.version)
                and (where.state is None or b.state is where.state)
                and breaker_name(b.plugin, b.version) > after
            )

        found = sorted(
            filter(keep, self._visible(tenant_id)),
            key=lambda r: breaker_name(r.breaker.plugin, r.breaker.version),
        )
        return [_copy(r) for r in found[:limit]]

    async def save(self, record: BreakerRecord, events: Sequence[BreakerEvent]) -> None:
        current = self._rows.get(record.breaker_id)
        if current is None or not self._uow.sees(current.tenant_id):
            return  # an UPDATE that matches no visible row
        self._rows[record.breaker_id] = _copy(record)
        for event in events:
            await self._uow.emit(breaker_message(event), subject=record.breaker_id)

    async def delete(self, tenant_id: str, breaker_id: str) -> bool:
        if await self.get(tenant_id, breaker_id) is None:
            return False
        del self._rows[breaker_id]
        return True

    async def due(self, now: datetime, limit: int) -> list[BreakerRecord]:
        found = []
        for record in self._rows.values():
            due = record.breaker.due()
            if self._uow.sees(record.tenant_id) and due is not None and due <= now:
                found.append(record)
        found.sort(key=lambda r: (r.breaker.due(), r.breaker_id))
        return [_copy(r) for r in found[:limit]]
