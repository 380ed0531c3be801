"""What the slo use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from portico_common.clock import Clock
from portico_slo.domain.burn_rate import Counts
from portico_slo.domain.events import SloEvent
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.slo import SloStatus


@dataclass(frozen=True, slots=True)
class SloRecord:
    """An SLO as stored: its definition, its status, and its last evaluation."""

    definition: SloDefinition
    status: SloStatus
    # Bucket size the outcomes are counted in; fixed when the SLO is created.
    bucket_seconds: int
    created_at: datetime
    short_window_burn_rate: float = 0.0
    long_window_burn_rate: float = 0.0
    evaluated_at: datetime | None = None

    @property
    def slo_id(self) -> str:
        return self.definition.slo_id

    @property
    def tenant_id(self) -> str:
        return self.definition.tenant_id


class SloRepository(Protocol):
    async def add(self, slo: SloRecord) -> bool:
        """Stores a new SLO; False if the tenant has one for this plugin version already."""

    async def get(self, tenant_id: str, slo_id: str) -> SloRecord | None: ...

    async def find(self, tenant_id: str, plugin: str, version: str) -> SloRecord | None:
        """The SLO of a plugin version, without locking it."""

    async def lock(self, tenant_id: str, plugin: str, version: str) -> SloRecord | None:
        """The SLO of a plugin version, locked until the transaction ends.

        Evaluations of one SLO run one after another, so two concurrent
        reports cannot both see it OK and both emit a violation.
        """

    async def save(self, slo: SloRecord) -> None:
        """Stores the status and the last evaluation (the definition never changes)."""


class OutcomeBuckets(Protocol):
    async def add(self, tenant_id: str, slo_id: str, counts: Mapping[int, Counts]) -> None:
        """Adds counts to the buckets keyed by their start (epoch second)."""

    async def window_counts(self, slo: SloRecord, now: datetime) -> tuple[Counts, Counts]:
        """The SLO's (short, long) window counts ending at `now`."""

    async def all_window_counts(self, now: datetime) -> list[tuple[SloRecord, Counts, Counts]]:
        """Every visible SLO with its (short, long) window counts ending at `now`."""

    async def prune(self, now: datetime) -> int:
        """Deletes buckets no window ending at `now` reads; returns how many."""


class SloUnitOfWork(Protocol):
    # Read-only members, so any repository implementing the port fits.
    @property
    def slos(self) -> SloRepository: ...
    @property
    def buckets(self) -> OutcomeBuckets: ...
    @property
    def clock(self) -> Clock: ...

    async def publish(self, events: Sequence[SloEvent]) -> None:
        """Queues the events to be published if, and only if, the transaction commits."""


UnitOfWorkFactory = Callable[[str], AbstractAsyncContextManager[SloUnitOfWork]]


class BurnRateGauge(Protocol):
    """Where the current burn rates of an SLO are published (Prometheus in production)."""

    def set(self, definition: SloDefinition, short_burn: float, long_burn: float) -> None: ...
