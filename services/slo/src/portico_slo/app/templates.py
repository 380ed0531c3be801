"""SLO templates, and the SLO every version a rollout starts gets from them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from portico_common.tenants import require_tenant_id
from portico_slo.app.handlers import store_new
from portico_slo.app.ports import BurnRateGauge, SloRecord, UnitOfWorkFactory
from portico_slo.app.validation import check_name, check_plugin_version
from portico_slo.domain.scope import Scope
from portico_slo.domain.templates import BUILTIN, BUILTIN_TEMPLATE, SloTemplate
from portico_slo.errors import (
    SloAlreadyExistsError,
    TemplateAlreadyExistsError,
    TemplateNotFoundError,
)


@dataclass(frozen=True, slots=True)
class Ensured:
    slo: SloRecord
    created: bool


async def create_template(
    uow: UnitOfWorkFactory, *, tenant_id: str, template: SloTemplate
) -> SloTemplate:
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        if not await tx.templates.put(tenant_id, template, create=True):
            raise TemplateAlreadyExistsError(template.name)
    return template


async def update_template(
    uow: UnitOfWorkFactory, *, tenant_id: str, template: SloTemplate
) -> SloTemplate:
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        if not await tx.templates.put(tenant_id, template, create=False):
            raise TemplateNotFoundError(template.name)
    return template


async def get_template(uow: UnitOfWorkFactory, *, tenant_id: str, name: str) -> SloTemplate:
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        found = await tx.templates.get(tenant_id, name)
    if found is None:
        if name == BUILTIN_TEMPLATE:
            return BUILTIN
        raise TemplateNotFoundError(name)
    return found


async def list_templates(uow: UnitOfWorkFactory, *, tenant_id: str) -> list[SloTemplate]:
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        return await tx.templates.all(tenant_id)


async def delete_template(uow: UnitOfWorkFactory, *, tenant_id: str, name: str) -> None:
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        if not await tx.templates.delete(tenant_id, name):
            raise TemplateNotFoundError(name)


async def ensure_version_slo(
    uow: UnitOfWorkFactory,
    gauge: BurnRateGauge,
    *,
    tenant_id: str,
    plugin: str,
    version: str,
    template: str = "",
    rollout_id: str = "",
) -> Ensured:
    """The SLO a template makes for plugin@version (or its canary cohort), created if missing.

    Idempotent: the SLO is named after the template and the scope, so asking
    again (or two replicas asking at once) finds the one that exists.
    """
    require_tenant_id(tenant_id)
    check_plugin_version(plugin, version)
    if rollout_id:
        check_name("rollout_id", rollout_id)
    scope = Scope.of(plugin, version, rollout_id)
    async with uow(tenant_id) as tx:
        chosen = (
            await tx.templates.get(tenant_id, template)
            if template
            else await tx.templates.default(tenant_id)
        )
    if chosen is None:
        if template and template != BUILTIN_TEMPLATE:
            raise TemplateNotFoundError(template)
        chosen = BUILTIN
    definition = chosen.instantiate(str(uuid.uuid4()), tenant_id, scope)
    async with uow(tenant_id) as tx:
        existing = await tx.slos.by_name(tenant_id, definition.name)
    if existing is not None:
        return Ensured(existing, created=False)
    try:
        return Ensured(await store_new(uow, gauge, definition), created=True)
    except SloAlreadyExistsError:
        # Another caller made it between our read and our insert.
        async with uow(tenant_id) as tx:
            raced = await tx.slos.by_name(tenant_id, definition.name)
        if raced is None:
            raise
        return Ensured(raced, created=False)
