"""What the circuit breaker use cases need from the outside world: where breakers are kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from portico_slo.domain.breakers import Breaker
from portico_slo.domain.breakers_config import BreakerState
from portico_slo.domain.breakers_events import BreakerEvent


@dataclass(frozen=True, slots=True)
class BreakerRecord:
    """A breaker as stored, with when it was created and last changed."""

    breaker: Breaker
    created_at: datetime
    updated_at: datetime

    @property
    def breaker_id(self) -> str:
        return self.breaker.breaker_id

    @property
    def tenant_id(self) -> str:
        return self.breaker.tenant_id


def breaker_name(plugin: str, version: str) -> str:
    """The listing order and page token of a breaker: `plugin@version`."""
    return f"{plugin}@{version}"


@dataclass(frozen=True, slots=True)
class BreakerFilter:
    """Which breakers a listing returns; empty fields match every breaker."""

    plugin: str = ""
    version: str = ""
    state: BreakerState | None = None


class BreakerRepository(Protocol):
    async def add(self, record: BreakerRecord) -> bool:
        """Stores a new breaker; False if its plugin version has one already."""

    async def get(self, tenant_id: str, breaker_id: str) -> BreakerRecord | None: ...

    async def lock(self, tenant_id: str, breaker_id: str) -> BreakerRecord | None:
        """The breaker, locked until the transaction ends (changes to one breaker run in turn)."""

    async def for_version(
        self, tenant_id: str, plugin: str, version: str, *, lock: bool
    ) -> BreakerRecord | None:
        """The plugin version's breaker; with `lock`, locked until the transaction ends."""

    async def page(
        self, tenant_id: str, where: BreakerFilter, *, after: str, limit: int
    ) -> list[BreakerRecord]:
        """Breakers ordered by `plugin@version`, those after `after`, at most `limit`."""

    async def save(self, record: BreakerRecord, events: Sequence[BreakerEvent]) -> None:
        """Stores the breaker as it stands and queues its events for the outbox.

        Both happen in the caller's transaction: the events are published if,
        and only if, the state that caused them commits.
        """

    async def delete(self, tenant_id: str, breaker_id: str) -> bool: ...

    async def due(self, now: datetime, limit: int) -> list[BreakerRecord]:
        """Visible breakers the tick would move by `now`, locked; rows another
        transaction holds are skipped, so replicas share the work."""
