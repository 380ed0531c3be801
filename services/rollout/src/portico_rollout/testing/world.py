"""Test helpers shipped with the service: its app layer over in-memory adapters.

Unit tests here use it, and so can other packages' tests that need a rollout
service without PostgreSQL or NATS.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.protobuf.message import Message

from portico_common.clock import ManualClock
from portico_common.events.envelope import Envelope
from portico_rollout.adapters.advisories_memory import MemoryAdvisories
from portico_rollout.adapters.compat_memory import MemoryDependencyGraph
from portico_rollout.adapters.memory import MemoryStore
from portico_rollout.adapters.slo_memory import MemorySlo
from portico_rollout.adapters.view import AssignmentView
from portico_rollout.adapters.view_memory import MemoryAssignmentReader, MemoryChangeFeed
from portico_rollout.app import handlers
from portico_rollout.app.assignment_sync import AssignmentSync
from portico_rollout.app.assignments import VersionAnswer, resolve_version
from portico_rollout.app.dependents import SagaPass, advance_sagas
from portico_rollout.app.evaluation import Pass, evaluate_due_rollouts
from portico_rollout.app.handlers import Defaults, RolloutSpec
from portico_rollout.app.ports import UnitOfWorkFactory
from portico_rollout.app.saga_limits import SagaLimits
from portico_rollout.bootstrap import Components, Dependencies, build
from portico_rollout.domain.events import RolloutEvent, RolloutRolledBack
from portico_rollout.domain.rollout import Rollout
from portico_rollout.domain.verdicts import CheckKind, CheckVerdict

M = TypeVar("M", bound=Message)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TENANT = "acme"
PLUGIN = "@acme/plugin-cost-insights"
VERSION = "2.3.0"

# In memory a handler's unit of work needs no connection of the consumer's.
NO_CONNECTION: Any = None


@dataclass
class Backend:
    """A unit-of-work factory and a way to read the event types it committed, oldest first."""

    uow: UnitOfWorkFactory
    committed_events: Callable[[], Awaitable[list[str]]]


# What each serving rollout's canary gets per tick while `healthy_traffic` is on.
HEALTHY_OUTCOMES = 50


@dataclass
class RolloutWorld:
    """The service's app layer over in-memory adapters, with a clock the test moves.

    `slo` is an in-memory slo, `graph` an in-memory dependency graph. With
    `healthy_traffic` on (the default), every tick first reports good
    outcomes of each serving rollout's version, so a phase passes its
    default criteria once baked; tests about evidence turn it off and
    report what they need.
    """

    clock: ManualClock
    store: MemoryStore
    slo: MemorySlo
    tenant: str = TENANT
    plugin: str = PLUGIN
    version: str = VERSION
    healthy_traffic: bool = True
    defaults: Defaults = field(default_factory=Defaults)
    graph: MemoryDependencyGraph = field(default_factory=MemoryDependencyGraph)
    advisories: MemoryAdvisories = field(default_factory=MemoryAdvisories)
    # The saga runner's pass bounds and step backoff (`run_sagas`).
    saga_limits: SagaLimits = field(default_factory=SagaLimits)
    # The read path: the in-memory view, kept in step by `settle`.
    view: AssignmentView = field(default_factory=AssignmentView)
    feed: MemoryChangeFeed = field(init=False)
    sync: AssignmentSync = field(init=False)

    def __post_init__(self) -> None:
        self.feed = MemoryChangeFeed(self.store)
        self.sync = AssignmentSync(MemoryAssignmentReader(self.store), self.feed, [self.view])

    @property
    def uow(self) -> UnitOfWorkFactory:
        return self.store.uow_factory()

    def components(self, *, default_bake_seconds: int = 300) -> Components:
        """What the service runs, built over this world's store, slo and clock."""
        return build(
            Dependencies(
                uow=self.uow,
                consumer_uow=self.store.consumer_uow(),
                clock=self.clock,
                slo=self.slo,
                defaults=Defaults(
                    bake_seconds=default_bake_seconds,
                    hold_timeout_seconds=self.defaults.hold_timeout_seconds,
                    recheck_seconds=self.defaults.recheck_seconds,
                    sample_recheck_seconds=self.defaults.sample_recheck_seconds,
                    watch_after_completion_seconds=self.defaults.watch_after_completion_seconds,
                ),
                assignments=MemoryAssignmentReader(self.store),
                changes=MemoryChangeFeed(self.store),
                graph=self.graph,
                advisories=self.advisories,
                saga_limits=self.saga_limits,
            )
        )

    async def settle(self) -> int:
        """Brings the view up to date as the service's feed would: returns changes routed.

        The first call builds it; later ones read back the plugins that the
        events committed since name.
        """
        for news in self.feed.news():
            self.sync.changed(*news)
        return await self.sync.step()

    async def resolve(
        self, user_id: str, *, tenant: str = TENANT, plugin: str = PLUGIN
    ) -> VersionAnswer:
        """ResolveVersion as the service answers it, once the view has caught up."""
        await self.settle()
        return resolve_version(self.view, tenant, user_id, plugin)

    async def deliver(self, payload: Message, *, tenant: str = TENANT) -> Envelope:
        """Hands a CloudEvent to the handler the service subscribes for its type.

        The handler runs as the consumer would run it, in a unit of work
        that commits when it returns; the envelope is returned for its ids.
        """
        envelope = Envelope.of(payload, source="tests", tenant_id=tenant, time=self.clock.now())
        subscribed = {
            event_type: handler
            for subscription in self.components().subscriptions
            for event_type, handler in subscription.handlers.items()
        }
        await subscribed[envelope.type](envelope, NO_CONNECTION)
        return envelope

    def events(self, cls: type[M]) -> list[M]:
        """The committed events of one type, oldest first."""
        return [e for e, _ in self.store.sink.events if isinstance(e, cls)]

    def event_types(self) -> list[str]:
        """The names of every committed event's message, oldest first."""
        return [e.DESCRIPTOR.name for e, _ in self.store.sink.events]

    async def request(
        self,
        *,
        tenant: str = TENANT,
        plugin: str = PLUGIN,
        version: str = VERSION,
        phases: Sequence[int] = (),
        bake_seconds: int = 600,
        spec: RolloutSpec | None = None,
    ) -> Rollout:
        """RequestRollout as the servicer calls it; `spec` replaces phases and bake."""
        spec = spec or RolloutSpec(phases=tuple(phases), bake_seconds=bake_seconds)
        return await handlers.request_rollout(
            self.uow,
            self.slo,
            tenant,
            plugin,
            version,
            spec=spec,
            defaults=self.defaults,
            advisories=self.advisories,
        )

    async def verdict(
        self,
        kind: CheckKind,
        passed: bool,
        *reasons: str,
        tenant: str = TENANT,
        plugin: str = PLUGIN,
        version: str = VERSION,
        event_id: str | None = None,
        at: datetime | None = None,
    ) -> list[RolloutEvent]:
        """Delivers one verdict event the way the consumer does: in its own transaction."""
        verdict = CheckVerdict(
            tenant_id=tenant,
            plugin=plugin,
            version=version,
            kind=kind,
            passed=passed,
            reasons=reasons,
            event_id=event_id or str(uuid.uuid4()),
            at=at or self.clock.now(),
        )
        async with self.uow(tenant) as tx:
            return await handlers.record_verdict(tx, verdict)

    async def violation(
        self,
        *,
        tenant: str = TENANT,
        plugin: str = PLUGIN,
        version: str = VERSION,
        event_id: str = "violation-1",
        detected_at: datetime | None = None,
    ) -> RolloutRolledBack | None:
        async with self.uow(tenant) as tx:
            return await handlers.roll_back_on_violation(
                tx,
                watch_seconds=self.defaults.watch_after_completion_seconds,
                violation=handlers.SloViolation(
                    tenant_id=tenant,
                    plugin=plugin,
                    version=version,
                    slo_id="slo-1",
                    rule="burn rate 14.4 over 5m and 1h",
                    event_id=event_id,
                    detected_at=detected_at or self.clock.now(),
                ),
            )

    async def tick(self, **elapsed: float) -> int:
        """Moves the clock, then runs one scheduler pass; returns how many rollouts were due."""
        return (await self.pass_(**elapsed)).due

    async def pass_(self, **elapsed: float) -> Pass:
        """Moves the clock, feeds healthy traffic (if on), runs one scheduler pass."""
        self.clock.advance(**elapsed)
        if self.healthy_traffic:
            for rollout in self.store.state.rollouts.values():
                if rollout.state.serves and rollout.phase_started_at is not None:
                    self.slo.report(
                        rollout.tenant_id,
                        rollout.plugin,
                        rollout.version,
                        rollout.phase_started_at,
                        good=HEALTHY_OUTCOMES,
                    )
        return await evaluate_due_rollouts(
            self.uow,
            self.slo,
            self.clock.now(),
            defaults=self.defaults,
            advisories=self.advisories,
        )

    async def run_sagas(self) -> SagaPass:
        """One pass of the saga runner: the rollback sagas' steps after traffic."""
        return await advance_sagas(
            self.uow,
            self.graph,
            self.clock.now(),
            limits=self.saga_limits,
            advisories=self.advisories,
        )

    async def get(self, rollout_id: str, tenant: str = TENANT) -> Rollout:
        return await handlers.get_rollout(self.uow, tenant, rollout_id)

    async def started(
        self, *, bake_seconds: int = 600, plugin: str = PLUGIN, version: str = VERSION
    ) -> Rollout:
        """A rollout whose checks both passed: phase 0 is live."""
        rollout = await self.request(bake_seconds=bake_seconds, plugin=plugin, version=version)
        await self.verdict("security", True, plugin=plugin, version=version)
        await self.verdict("compat", True, plugin=plugin, version=version)
        return await self.get(rollout.rollout_id)


def world(start: datetime = T0) -> RolloutWorld:
    """A fresh world whose clock reads `start`."""
    clock = ManualClock(start)
    return RolloutWorld(clock, MemoryStore(clock), MemorySlo())
