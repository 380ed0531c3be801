"""What the slo use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from portico_common.clock import Clock
from portico_slo.app.breakers_ports import BreakerRepository
from portico_slo.domain.burn_rate import Counts, WindowSummary
from portico_slo.domain.events import SloEvent, SloRecovered, SloViolated
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.scope import ScopeKind
from portico_slo.domain.slo import SloStatus
from portico_slo.domain.templates import SloTemplate
from portico_slo.domain.version_outcomes import Tally


@dataclass(frozen=True, slots=True)
class TierBurn:
    """One tier's burn rates at the last evaluation."""

    tier: str
    short_burn: float
    long_burn: float


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
    tier_burns: tuple[TierBurn, ...] = ()
    # Outcomes refused as too late or too early, ever.
    refused_outcomes: int = 0
    # Pulled SLIs: the end of the last step read from Prometheus.
    pulled_until: datetime | None = None

    @property
    def slo_id(self) -> str:
        return self.definition.slo_id

    @property
    def tenant_id(self) -> str:
        return self.definition.tenant_id


@dataclass(frozen=True, slots=True)
class SloFilter:
    """Which SLOs a listing returns; empty fields match everything."""

    plugin: str = ""
    version: str = ""
    scope: ScopeKind | None = None
    violated_only: bool = False
    name_prefix: str = ""


@dataclass(frozen=True, slots=True)
class ViolationRecord:
    """A tier's firing as evidence: the event that announced it, and when it stopped."""

    violation: SloViolated
    recovered_at: datetime | None = None
    recovered: SloRecovered | None = field(default=None, compare=False)


class SloRepository(Protocol):
    async def add(self, slo: SloRecord) -> bool:
        """Stores a new SLO; False if the tenant has an SLO of this name already."""

    async def get(self, tenant_id: str, slo_id: str) -> SloRecord | None: ...

    async def by_name(self, tenant_id: str, name: str) -> SloRecord | None: ...

    async def lock(self, tenant_id: str, slo_id: str) -> SloRecord | None:
        """The SLO, locked until the transaction ends (evaluations of one SLO run in turn)."""

    async def matching(
        self, tenant_id: str, plugin: str, version: str, rollout_id: str = "", *, lock: bool
    ) -> list[SloRecord]:
        """The SLOs an outcome of plugin@version (in rollout_id's canary) counts for, by id.

        With `lock`, each is locked until the transaction ends, always in id
        order, so two concurrent reports cannot both see an SLO OK and both
        emit a violation, nor deadlock each other.
        """

    async def page(
        self, tenant_id: str, where: SloFilter, *, after: str, limit: int
    ) -> list[SloRecord]:
        """SLOs ordered by name, those after `after`, at most `limit`."""

    async def save(self, slo: SloRecord) -> None:
        """Stores the status and the last evaluation."""

    async def update(self, slo: SloRecord) -> None:
        """Stores a changed definition (the status too)."""

    async def delete(self, tenant_id: str, slo_id: str) -> bool: ...

    async def count_refused(self, tenant_id: str, slo_id: str, refused: int) -> None: ...

    async def set_pulled(self, tenant_id: str, slo_id: str, until: datetime) -> None: ...

    async def pulled(self) -> list[SloRecord]:
        """Every visible SLO whose SLI is pulled."""


@dataclass(frozen=True, slots=True)
class ActiveSummaries:
    """The SLOs a tick reads (each with its windows' summaries), and how many SLOs there are."""

    rows: list[tuple[SloRecord, dict[int, WindowSummary]]]
    total: int


class OutcomeBuckets(Protocol):
    async def add(self, tenant_id: str, slo_id: str, counts: Mapping[int, Counts]) -> None:
        """Adds counts to the buckets keyed by their start (epoch second)."""

    async def summaries(
        self, slo: SloRecord, spans: Sequence[tuple[int, int]]
    ) -> list[WindowSummary]:
        """The summary of the buckets with keys in each (low, high] span."""

    async def groups(
        self, slo: SloRecord, low: int, high: int, group_seconds: int
    ) -> dict[int, WindowSummary]:
        """Summaries of the buckets in (low, high] per group of `group_seconds`, by group start."""

    async def all_summaries(
        self, now: datetime
    ) -> list[tuple[SloRecord, dict[int, WindowSummary]]]:
        """Every visible SLO with the summaries of its alerting windows ending at `now`."""

    async def active_summaries(self, now: datetime, burning: Collection[str]) -> ActiveSummaries:
        """`all_summaries` of only the visible SLOs a tick at `now` can change.

        Those with a bucket inside their longest alerting window ending at
        `now`, those not OK or with any tier state, and those in `burning`
        (ids of any place; the others are ignored). `total` counts every
        visible SLO.
        """

    async def prune(self, now: datetime) -> int:
        """Deletes buckets no window or budget period ending at `now` reads; returns how many."""


class ViolationLog(Protocol):
    async def record(self, violation: SloViolated) -> None: ...

    async def resolve(self, recovery: SloRecovered) -> None: ...

    async def recent(self, tenant_id: str, slo_id: str, *, limit: int) -> list[ViolationRecord]:
        """Newest first; every SLO of the tenant when `slo_id` is empty."""


class TemplateRepository(Protocol):
    async def put(self, tenant_id: str, template: SloTemplate, *, create: bool) -> bool:
        """Stores a template; with `create`, False if the name is taken (else False if absent).

        A template marked default unmarks the tenant's previous default.
        """

    async def get(self, tenant_id: str, name: str) -> SloTemplate | None: ...

    async def default(self, tenant_id: str) -> SloTemplate | None: ...

    async def all(self, tenant_id: str) -> list[SloTemplate]: ...

    async def delete(self, tenant_id: str, name: str) -> bool: ...


class VersionOutcomeTallies(Protocol):
    """Outcomes per plugin version and epoch second (see domain.version_outcomes)."""

    async def add(
        self, tenant_id: str, plugin: str, version: str, seconds: Mapping[int, Tally]
    ) -> None:
        """Adds to the tallies of the version's seconds."""

    async def read(
        self, tenant_id: str, plugin: str, versions: Sequence[str], start: int, end: int
    ) -> dict[str, dict[int, Tally]]:
        """The tallies of each version's seconds in [start, end) (a version without any: {})."""

    async def prune(self, before: int) -> int:
        """Deletes every tally of a second before `before`; returns how many."""


class SloUnitOfWork(Protocol):
    # Read-only members, so any repository implementing the port fits.
    @property
    def slos(self) -> SloRepository: ...
    @property
    def buckets(self) -> OutcomeBuckets: ...
    @property
    def violations(self) -> ViolationLog: ...
    @property
    def templates(self) -> TemplateRepository: ...
    @property
    def version_outcomes(self) -> VersionOutcomeTallies: ...
    @property
    def breakers(self) -> BreakerRepository: ...
    @property
    def clock(self) -> Clock: ...

    async def publish(self, events: Sequence[SloEvent]) -> None:
        """Queues the events to be published if, and only if, the transaction commits."""


UnitOfWorkFactory = Callable[[str], AbstractAsyncContextManager[SloUnitOfWork]]


class BurnRateGauge(Protocol):
    """Where the current burn rates of an SLO are published (Prometheus in production)."""

    def set(self, definition: SloDefinition, short_burn: float, long_burn: float) -> None: ...

    def burning(self) -> Collection[str]:
        """Ids of the SLOs whose burn rates this gauge last set to something other than 0."""


@dataclass(frozen=True, slots=True)
class Sample:
    """What a pull read for one step: counts, or one value for a threshold SLI."""

    start: datetime
    counts: Counts


class MetricsSource(Protocol):
    """Where pulled SLIs are read (a Prometheus server's HTTP API in production)."""

    async def read(
        self, definition: SloDefinition, start: datetime, end: datetime, step_seconds: int
    ) -> list[Sample]:
        """Good and bad counts per step in [start, end), each step starting at a multiple."""
