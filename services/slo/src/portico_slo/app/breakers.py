"""Circuit breaker use cases: configure, read, force, delete, feed and tick a version's breaker.

A breaker's changes run in one transaction with the breaker row locked, and
its events are queued for the outbox in that same transaction, so replicas
agree on its state and a restarted service resumes it where it stood. Reports
feed it inside their own transaction (see `record_outcomes`), after the SLOs
they lock, so the two never wait on each other in opposite orders.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum

from portico_common.tenants import ALL_TENANTS, require_tenant_id
from portico_slo.app.breakers_ports import BreakerFilter, BreakerRecord
from portico_slo.app.ports import SloUnitOfWork, UnitOfWorkFactory
from portico_slo.app.validation import check_plugin_version
from portico_slo.domain.batch import Accepted
from portico_slo.domain.breakers import Breaker
from portico_slo.domain.breakers_config import BreakerConfig, BreakerState
from portico_slo.domain.breakers_events import BreakerEvent, BreakerTransitioned
from portico_slo.domain.objective import SloDefinition
from portico_slo.domain.scope import ScopeKind
from portico_slo.errors import BreakerNotFoundError, InvalidBreakerError

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100
TICK_BATCH = 100


class ForceAction(StrEnum):
    """What an operator can do to a breaker (resilience4j's transitionTo*State and reset)."""

    OPEN = "open"
    FORCE_OPEN = "force_open"
    CLOSE = "close"
    HALF_OPEN = "half_open"
    DISABLE = "disable"
    METRICS_ONLY = "metrics_only"
    RESET = "reset"


_TARGETS = {
    ForceAction.OPEN: BreakerState.OPEN,
    ForceAction.FORCE_OPEN: BreakerState.FORCED_OPEN,
    ForceAction.CLOSE: BreakerState.CLOSED,
    ForceAction.HALF_OPEN: BreakerState.HALF_OPEN,
    ForceAction.DISABLE: BreakerState.DISABLED,
    ForceAction.METRICS_ONLY: BreakerState.METRICS_ONLY,
}


def _new_breaker(
    tenant_id: str,
    plugin: str,
    version: str,
    config: BreakerConfig,
    *,
    now: datetime,
    slo_id: str,
) -> BreakerRecord:
    breaker = Breaker.create(
        breaker_id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        plugin=plugin,
        version=version,
        config=config,
        now=now,
        slo_id=slo_id,
    )
    return BreakerRecord(breaker, created_at=now, updated_at=now)


async def ensure_for_slo(tx: SloUnitOfWork, definition: SloDefinition) -> None:
    """Gives the version an SLO watches a breaker (resilience4j's defaults) unless it has one.

    Called in the transaction that stores the SLO. A plugin-wide SLO names
    no version, and a pulled SLI's outcomes never pass through ReportOutcomes
    (a breaker would never be fed), so neither brings a breaker.
    """
    scope = definition.scope
    if scope.kind is ScopeKind.PLUGIN or definition.indicator.pulled:
        return
    found = await tx.breakers.for_version(
        definition.tenant_id, scope.plugin, scope.version, lock=False
    )
    if found is None:
        await tx.breakers.add(
            _new_breaker(
                definition.tenant_id,
                scope.plugin,
                scope.version,
                BreakerConfig(),
                now=tx.clock.now(),
                slo_id=definition.slo_id,
            )
        )


async def record_outcomes(
    tx: SloUnitOfWork, record: BreakerRecord, accepted: Accepted, now: datetime
) -> BreakerRecord:
    """Feeds the accepted outcomes of a report to the (locked) breaker, oldest first.

    Runs in the report's transaction: the breaker's new state and the events
    it caused commit with the report's buckets, or not at all.
    """
    if not accepted.seconds:
        return record
    events = record.breaker.record_seconds(accepted.in_time_order(), now)
    saved = replace(record, updated_at=now)
    await tx.breakers.save(saved, events)
    log_transitions(events)
    return saved


async def configure_breaker(
    uow: UnitOfWorkFactory,
    *,
    tenant_id: str,
    plugin: str,
    version: str,
    config: BreakerConfig,
) -> tuple[BreakerRecord, bool]:
    """Creates the version's breaker, or gives it a new configuration; True when created."""
    require_tenant_id(tenant_id)
    check_plugin_version(plugin, version)
    async with uow(tenant_id) as tx:
        now = tx.clock.now()
        found = await tx.breakers.for_version(tenant_id, plugin, version, lock=True)
        if found is None:
            created = _new_breaker(tenant_id, plugin, version, config, now=now, slo_id="")
            if await tx.breakers.add(created):
                return created, True
            # Another request created it in the meantime: configure that one.
            found = await tx.breakers.for_version(tenant_id, plugin, version, lock=True)
            if found is None:
                raise BreakerNotFoundError(f"of {plugin}@{version}")
        if found.breaker.config == config:
            return found, False
        found.breaker.reconfigure(config)
        saved = replace(found, updated_at=now)
        await tx.breakers.save(saved, [])
    return saved, False


async def get_breaker(uow: UnitOfWorkFactory, *, tenant_id: str, breaker_id: str) -> BreakerRecord:
    require_tenant_id(tenant_id)
    _require_id(breaker_id)
    async with uow(tenant_id) as tx:
        found = await tx.breakers.get(tenant_id, breaker_id)
    if found is None:
        raise BreakerNotFoundError(breaker_id)
    return found


async def list_breakers(
    uow: UnitOfWorkFactory,
    *,
    tenant_id: str,
    where: BreakerFilter,
    page_size: int = 0,
    page_token: str = "",
) -> tuple[list[BreakerRecord], str]:
    """A page of breakers by `plugin@version` and the next page's token ("" on the last)."""
    require_tenant_id(tenant_id)
    if page_size > MAX_PAGE_SIZE:
        raise InvalidBreakerError("page_size", f"{page_size} is above {MAX_PAGE_SIZE}")
    size = page_size or DEFAULT_PAGE_SIZE
    async with uow(tenant_id) as tx:
        found = await tx.breakers.page(tenant_id, where, after=page_token, limit=size + 1)
    page = found[:size]
    if len(found) <= size:
        return page, ""
    last = page[-1].breaker
    return page, f"{last.plugin}@{last.version}"


async def force_breaker(
    uow: UnitOfWorkFactory,
    *,
    tenant_id: str,
    breaker_id: str,
    action: ForceAction,
    actor: str = "",
    note: str = "",
    open_for: timedelta | None = None,
) -> BreakerRecord:
    """Moves a breaker by hand; a transition resilience4j forbids is refused and changes nothing."""
    require_tenant_id(tenant_id)
    _require_id(breaker_id)
    if open_for is not None and (action is not ForceAction.OPEN or open_for <= timedelta(0)):
        raise InvalidBreakerError("open_for", "only a positive wait, and only with OPEN")
    async with uow(tenant_id) as tx:
        found = await tx.breakers.lock(tenant_id, breaker_id)
        if found is None:
            raise BreakerNotFoundError(breaker_id)
        now = tx.clock.now()
        breaker = found.breaker
        if action is ForceAction.RESET:
            events = breaker.reset(now, actor=actor, note=note)
        else:
            events = breaker.transition(
                _TARGETS[action], now, actor=actor, note=note, open_for=open_for
            )
        saved = replace(found, updated_at=now)
        await tx.breakers.save(saved, events)
    log_transitions(events)
    return saved


async def delete_breaker(uow: UnitOfWorkFactory, *, tenant_id: str, breaker_id: str) -> None:
    require_tenant_id(tenant_id)
    _require_id(breaker_id)
    async with uow(tenant_id) as tx:
        if not await tx.breakers.delete(tenant_id, breaker_id):
            raise BreakerNotFoundError(breaker_id)


async def tick_breakers(uow: UnitOfWorkFactory, *, limit: int = TICK_BATCH) -> int:
    """resilience4j's scheduler: moves every breaker whose wait ended; returns how many.

    One transaction across tenants, rows another replica holds skipped, so
    replicas share the work and none moves a breaker twice.
    """
    moved = 0
    async with uow(ALL_TENANTS) as tx:
        now = tx.clock.now()
        for record in await tx.breakers.due(now, limit):
            events = record.breaker.tick(now)
            await tx.breakers.save(replace(record, updated_at=now), events)
            moved += 1
            log_transitions(events)
    return moved


def log_transitions(events: Sequence[BreakerEvent]) -> None:
    for event in events:
        facts = event.facts
        fields = {
            "tenant": facts.tenant_id,
            "breaker_id": facts.breaker_id,
            "plugin": facts.plugin,
            "version": facts.version,
            "event_type": event.event_type,
        }
        if isinstance(event, BreakerTransitioned):
            level = logging.WARNING if event.to_state is BreakerState.OPEN else logging.INFO
            log.log(level, "breaker %s", event.summary, extra=fields)
        else:
            log.warning("breaker thresholds exceeded (metrics only)", extra=fields)


def _require_id(breaker_id: str) -> None:
    if not breaker_id:
        raise InvalidBreakerError("breaker_id", "must not be empty")
