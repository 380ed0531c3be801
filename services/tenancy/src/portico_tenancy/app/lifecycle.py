"""The tenant lifecycle's use cases: metadata, suspension, deletion and its saga.

Every move locks the tenant row, asks the domain whether it may happen, saves
it and queues its `tenant.*` event in the same transaction (the outbox), so
the event is published if and only if the move committed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from portico_common.tenants import ALL_TENANTS, is_valid_tenant_id, require_tenant_id
from portico_tenancy.app import keys
from portico_tenancy.app.ports import TenancyUnitOfWork, UnitOfWorkFactory
from portico_tenancy.domain.events import TenantEvent
from portico_tenancy.domain.jobs import Job, JobSpec
from portico_tenancy.domain.tenant import Tenant, TenantQuery, TenantState
from portico_tenancy.errors import InvalidReportError, InvalidTenantError, TenantNotFoundError

DEFAULT_PAGE = 50
MAX_PAGE = 500


@dataclass(frozen=True)
class MetadataChange:
    """The metadata UpdateTenant replaces; None leaves a field as it is."""

    display_name: str | None = None
    plan: str | None = None
    owner_contacts: Sequence[str] | None = None
    labels: Mapping[str, str] | None = None


async def update_tenant(uow: UnitOfWorkFactory, tenant_id: str, change: MetadataChange) -> Tenant:
    """Replaces the named metadata; emits tenant.updated."""
    if change == MetadataChange():
        raise InvalidTenantError(
            "update_mask must name at least one of display_name, plan, owner_contacts, labels"
        )
    return await _move(
        uow,
        tenant_id,
        lambda t, now: t.update(
            now,
            display_name=change.display_name,
            plan=change.plan,
            owner_contacts=change.owner_contacts,
            labels=change.labels,
        ),
    )


async def suspend_tenant(uow: UnitOfWorkFactory, tenant_id: str, reason: str) -> Tenant:
    """Suspends an active tenant; emits tenant.suspended."""
    return await _move(uow, tenant_id, lambda t, now: t.suspend(reason, now))


async def resume_tenant(uow: UnitOfWorkFactory, tenant_id: str) -> Tenant:
    """Resumes a suspended tenant; emits tenant.resumed."""
    return await _move(uow, tenant_id, lambda t, now: t.resume(now))


async def delete_tenant(uow: UnitOfWorkFactory, tenant_id: str, grace: timedelta) -> Tenant:
    """Schedules the deletion after `grace`; emits tenant.deletion_scheduled."""
    return await _move(uow, tenant_id, lambda t, now: t.schedule_deletion(grace, now))


async def restore_tenant(uow: UnitOfWorkFactory, tenant_id: str) -> Tenant:
    """Cancels a deletion within its grace period; emits tenant.deletion_cancelled."""
    return await _move(uow, tenant_id, lambda t, now: t.restore(now))


async def activate_tenant(uow: UnitOfWorkFactory, tenant_id: str) -> Tenant:
    """Provisioning finished: a provisioning tenant becomes active (emits tenant.activated)."""
    return await _move(uow, tenant_id, lambda t, now: t.activate(now))


async def settle_placements(uow: UnitOfWorkFactory, *, limit: int = 100) -> list[Tenant]:
    """Activates the provisioning tenants the placer reported placed (once provisioned too).

    The placer (a privileged process, never tenancy) stamps `placed_at`; this
    turns its report into the lifecycle's move and tenant.activated, in
    tenancy's own transaction and outbox.
    """
    async with uow(ALL_TENANTS) as scan:
        reported = await scan.tenants.placed_awaiting(limit)
    return [await _move(uow, tenant_id, lambda t, now: t.placed(now)) for tenant_id in reported]


async def list_tenants(
    uow: UnitOfWorkFactory, query: TenantQuery, page_token: str, page_size: int
) -> tuple[list[Tenant], str]:
    """One page of tenants by id, and the token of the next page ("" on the last)."""
    limit = min(page_size or DEFAULT_PAGE, MAX_PAGE)
    after = _decode_token(page_token)
    async with uow(ALL_TENANTS) as tx:
        found = await tx.tenants.search(query, after, limit + 1)
    page = found[:limit]
    more = len(found) > limit
    return page, _encode_token(page[-1].tenant_id) if more and page else ""


async def refused_tenants(uow: UnitOfWorkFactory) -> list[Tenant]:
    """Every tenant whose tokens services refuse."""
    async with uow(ALL_TENANTS) as tx:
        return await tx.tenants.refused()


async def refused_states(uow: UnitOfWorkFactory) -> dict[str, str]:
    """Tenant id -> state of every tenant whose tokens are refused (the kernel's snapshot)."""
    return {t.tenant_id: t.state.value for t in await refused_tenants(uow)}


async def request_due_deletions(
    uow: UnitOfWorkFactory,
    services: Sequence[str],
    *,
    limit: int = 100,
    teardown: Callable[[str], JobSpec] | None = None,
) -> list[Tenant]:
    """Asks the services to delete the data of every tenant whose grace period ended.

    Tenancy deletes its own rows of the tenant (quota, usage) in the same
    transaction; a tenant with no other service to wait for is deleted at once.
    With `teardown` (tenants are provisioned), the tenant's queued, retrying
    and dead jobs are cancelled and the job removing its namespace is enqueued,
    all in that transaction; `services` then includes the participant that job
    reports for.
    """
    moved: list[Tenant] = []
    async with uow(ALL_TENANTS) as tx:
        now = tx.clock.now()
        for tenant in await tx.tenants.deletions_due(now, limit):
            requested, event = tenant.request_deletion(services, now)
            await tx.quotas.delete(tenant.tenant_id)
            await tx.usage.delete(tenant.tenant_id)
            await tx.reservations.delete(tenant.tenant_id)
            if teardown is not None:
                for job in await tx.jobs.cancellable(tenant.tenant_id):
                    await tx.jobs.save(job.cancelled(now))
                await tx.jobs.add(Job.new(teardown(tenant.tenant_id), now))
            events: list[TenantEvent] = [event]
            if not services:
                requested, deleted = requested.finish_deletion(now)
                events.append(deleted)
            await tx.tenants.save(requested)
            await tx.publish(events)
            moved.append(requested)
    return moved


async def report_data_deleted(
    uow: UnitOfWorkFactory, tenant_id: str, service: str, rows: int, services: Sequence[str]
) -> Tenant:
    """Records that `service` deleted its data of the tenant; the last report deletes it.

    A report repeated (an event redelivered) changes nothing and answers the
    same. Only services the saga waits for may report, once the deletion was
    requested.
    """
    if service not in services:
        raise InvalidReportError(
            f"service {service!r} is not one the deletion waits for ({', '.join(services)})"
        )
    if rows < 0:
        raise InvalidReportError("rows_deleted must not be negative")
    async with uow(require_tenant_id(tenant_id)) as tx:
        tenant = await _locked(tx, tenant_id)
        if tenant.deletion_requested_at is None:
            raise InvalidReportError(
                f"the deletion of tenant {tenant_id!r} was not requested: nothing to report"
            )
        now = tx.clock.now()
        await tx.data_deletions.record(tenant_id, service, rows, now)
        if tenant.state is TenantState.DELETING and set(
            services
        ) <= await tx.data_deletions.reported(tenant_id):
            tenant, event = tenant.finish_deletion(now)
            await tx.tenants.save(tenant)
            # Every service deleted its rows; what stays on purpose (security's
            # append-only audit) is sealed with this key, so destroying it is
            # what makes those rows unreadable.
            await keys.shred_in(tx, tenant_id, now)
            await tx.publish([event])
    return tenant


async def pending_services(
    uow: UnitOfWorkFactory, tenant: Tenant, services: Iterable[str]
) -> list[str]:
    """The services yet to report for a tenant whose deletion was requested."""
    if tenant.deletion_requested_at is None or tenant.state is TenantState.DELETED:
        return []
    async with uow(tenant.tenant_id) as tx:
        reported = await tx.data_deletions.reported(tenant.tenant_id)
    return [s for s in services if s not in reported]


# ---- internals -------------------------------------------------------------------

Move = Callable[[Tenant, datetime], tuple[Tenant, TenantEvent | None]]


async def _move(uow: UnitOfWorkFactory, tenant_id: str, move: Move) -> Tenant:
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        tenant = await _locked(tx, tenant_id)
        moved, event = move(tenant, tx.clock.now())
        if moved != tenant:
            await tx.tenants.save(moved)
        if event is not None:
            await tx.publish([event])
    return moved


async def _locked(tx: TenancyUnitOfWork, tenant_id: str) -> Tenant:
    tenant = await tx.tenants.get_for_update(tenant_id)
    if tenant is None:
        raise TenantNotFoundError(f"tenant {tenant_id!r} not found")
    return tenant


def _encode_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def _decode_token(token: str) -> str:
    if not token:
        return ""
    try:
        last = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        last = ""
    if not is_valid_tenant_id(last):
        raise InvalidTenantError("page_token is not one this service handed out")
    return last
