"""Silence use cases: create, change, expire and read a tenant's silences."""

from __future__ import annotations

import uuid

from portico_common.tenants import require_tenant_id
from portico_slo.alerting.app.ports import AlertingUowFactory
from portico_slo.alerting.domain.silences import (
    Silence,
    SilenceSpec,
    SilenceState,
    create_silence,
    expire_silence,
    update_silence,
)
from portico_slo.alerting.errors import SilenceNotFoundError

# A silence with its state when it was read.
SilenceView = tuple[Silence, SilenceState]


async def add_silence(uow: AlertingUowFactory, *, tenant_id: str, spec: SilenceSpec) -> SilenceView:
    """A new silence; it mutes matching alerts from its start to its end."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        now = tx.clock.now()
        silence = create_silence(spec, silence_id=str(uuid.uuid4()), tenant_id=tenant_id, now=now)
        await tx.silences.save(silence)
    return silence, silence.state(now)


async def change_silence(
    uow: AlertingUowFactory, *, tenant_id: str, silence_id: str, spec: SilenceSpec
) -> SilenceView:
    """Changes a silence in place, or expires it and returns its successor.

    Which one follows Alertmanager: matchers, an active silence's start and an
    end already past cannot be rewritten, so those changes make a new silence.
    """
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        current = await tx.silences.get(tenant_id, silence_id)
        if current is None:
            raise SilenceNotFoundError(silence_id)
        now = tx.clock.now()
        changed = update_silence(current, spec, new_id=str(uuid.uuid4()), now=now)
        for silence in changed:
            await tx.silences.save(silence)
    return changed[-1], changed[-1].state(now)


async def expire(uow: AlertingUowFactory, *, tenant_id: str, silence_id: str) -> SilenceView:
    """Ends a silence now (an expired one stays as it is)."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        current = await tx.silences.get(tenant_id, silence_id)
        if current is None:
            raise SilenceNotFoundError(silence_id)
        now = tx.clock.now()
        expired = expire_silence(current, now)
        if expired is not current:
            await tx.silences.save(expired)
    return expired, expired.state(now)


async def get_silence(uow: AlertingUowFactory, *, tenant_id: str, silence_id: str) -> SilenceView:
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        silence = await tx.silences.get(tenant_id, silence_id)
        now = tx.clock.now()
    if silence is None:
        raise SilenceNotFoundError(silence_id)
    return silence, silence.state(now)


async def list_silences(
    uow: AlertingUowFactory, *, tenant_id: str, states: frozenset[SilenceState] = frozenset()
) -> list[SilenceView]:
    """The tenant's silences with their state now, newest start first; `states` filters."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        now = tx.clock.now()
        silences = await tx.silences.for_tenant(tenant_id)
    found = [(s, s.state(now)) for s in silences]
    found.sort(key=lambda pair: (pair[0].starts_at, pair[0].silence_id), reverse=True)
    return [pair for pair in found if not states or pair[1] in states]
