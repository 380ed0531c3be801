"""Routing use cases: set, read and remove a tenant's routing tree; route alerts into groups.

Changing the tree regroups the tenant's alerts, as Alertmanager rebuilds
its groups on a configuration reload: groups are dissolved and their
alerts, with the firing ones of the store, routed again. The notification
log is kept, so a group whose key did not change is not notified twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from portico_common.tenants import require_tenant_id
from portico_slo.alerting.app.ports import AlertingUnitOfWork, AlertingUowFactory, RoutingRecord
from portico_slo.alerting.domain.alerts import Alert
from portico_slo.alerting.domain.groups import AlertGroup, group_key
from portico_slo.alerting.domain.inhibition import PAGE_INHIBITS_TICKET, InhibitRule
from portico_slo.alerting.domain.routing import Route, RouteConfig, compile_tree
from portico_slo.alerting.errors import InvalidRouteError

MAX_INHIBIT_RULES = 64


def inhibit_rules(record: RoutingRecord | None) -> tuple[InhibitRule, ...]:
    """The rules in force: the tenant's, and a page inhibiting its SLO's ticket by default."""
    if record is None:
        return (PAGE_INHIBITS_TICKET,)
    if record.default_inhibition_disabled:
        return record.inhibit_rules
    return (PAGE_INHIBITS_TICKET, *record.inhibit_rules)


async def tree_of(tx: AlertingUnitOfWork, record: RoutingRecord | None) -> Route | None:
    """The compiled tree of a stored record (None: the tenant routes nothing)."""
    if record is None:
        return None
    names = [c.name for c in await tx.channels.for_tenant(record.tenant_id)]
    return compile_tree(record.root, names)


async def route_alert(tx: AlertingUnitOfWork, tree: Route, alert: Alert, now: datetime) -> None:
    """Puts `alert` into the group of every route it matches (opening groups as needed)."""
    for route in tree.match(alert.labels):
        key = group_key(route, route.group_labels(alert.labels))
        group = await tx.groups.get(alert.tenant_id, key)
        await tx.groups.save(
            AlertGroup.open(route, alert, now) if group is None else group.insert(alert)
        )


async def regroup(tx: AlertingUnitOfWork, tenant_id: str, tree: Route | None) -> int:
    """Dissolves the tenant's groups and routes their alerts and the firing ones again."""
    now = tx.clock.now()
    carried: dict[str, Alert] = {}
    for group in await tx.groups.for_tenant(tenant_id):
        carried.update(group.alerts)
        await tx.groups.delete(tenant_id, group.key)
    for alert in await tx.alerts.for_tenant(tenant_id):
        if not alert.resolved_at(now):
            carried.setdefault(alert.fingerprint, alert)
    if tree is not None:
        for alert in carried.values():
            await route_alert(tx, tree, alert, now)
    return len(carried)


async def set_routing(
    uow: AlertingUowFactory,
    *,
    tenant_id: str,
    root: RouteConfig,
    rules: Sequence[InhibitRule],
    default_inhibition_disabled: bool,
    updated_by: str,
) -> RoutingRecord:
    """Replaces the tenant's routing tree and inhibition rules (checked against its channels)."""
    require_tenant_id(tenant_id)
    if len(rules) > MAX_INHIBIT_RULES:
        raise InvalidRouteError("inhibit_rules", f"at most {MAX_INHIBIT_RULES} rules")
    async with uow(tenant_id) as tx:
        record = RoutingRecord(
            tenant_id=tenant_id,
            root=root,
            inhibit_rules=tuple(rules),
            default_inhibition_disabled=default_inhibition_disabled,
            updated_at=tx.clock.now(),
            updated_by=updated_by,
        )
        tree = await tree_of(tx, record)
        await tx.routing.put(record)
        await regroup(tx, tenant_id, tree)
    return record


async def get_routing(uow: AlertingUowFactory, *, tenant_id: str) -> RoutingRecord | None:
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        return await tx.routing.get(tenant_id)


async def delete_routing(uow: AlertingUowFactory, *, tenant_id: str) -> bool:
    """Removes the tree: alerts are still recorded, but nothing is routed or notified."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        deleted = await tx.routing.delete(tenant_id)
        await regroup(tx, tenant_id, None)
    return deleted
