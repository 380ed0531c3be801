"""Reservations against tenants' quotas, and the usage they add up to.

`reserve` is the one admission check installs and rollouts go through: in
one transaction it locks the tenant's row, sums what the tenant's live
reservations hold, checks the claim against the quota and stores it. Claims
of one tenant therefore run one after another, and no two can both take the
last free slot (a projection read, as compat's pre-check, could not promise
that). Reserving and releasing are idempotent by reservation id.

Usage is derived, never reported: the install reservations that are in use
(their version went live) are the tenant's usage, recomputed here whenever
one changes and announced as tenant.usage.updated, so compat's projection
follows. Install and rollout events settle reservations (usage_events.py).

A hold is confirmed when its owner's record of the work arrives
(plugin.install.requested, rollout.requested); `expire_unconfirmed`, run by
a scheduled sweep, releases holds never confirmed within the hold time to
live, so a caller that stopped between Reserve and its commit cannot keep
quota taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from portico_common.tenants import ALL_TENANTS, require_tenant_id
from portico_tenancy.app.ports import TenancyUnitOfWork, UnitOfWorkFactory
from portico_tenancy.domain.events import TenantReservationExpired, TenantUsageUpdated
from portico_tenancy.domain.quota import Resources, Usage
from portico_tenancy.domain.reservations import (
    Amounts,
    Reservation,
    ReservationKind,
    ReservationState,
    require_reservation_id,
    shortfalls,
    tombstone,
)
from portico_tenancy.errors import (
    InvalidReservationError,
    QuotaExceededError,
    TenantNotFoundError,
)


@dataclass(frozen=True, slots=True)
class Claim:
    """What an install or a rollout asks to hold."""

    reservation_id: str
    kind: ReservationKind
    amounts: Amounts
    plugin: str = ""
    version: str = ""


async def reserve(uow: UnitOfWorkFactory, tenant_id: str, claim: Claim) -> Reservation:
    """Holds the claim against the tenant's quota, or raises QuotaExceededError.

    The same reservation id again answers the stored reservation (held, in
    use, or released: a released id is never granted again); with another
    claim under the same id it is refused.
    """
    require_tenant_id(tenant_id)
    require_reservation_id(claim.reservation_id)
    async with uow(tenant_id) as tx:
        await _lock_tenant(tx, tenant_id)
        existing = await tx.reservations.get(tenant_id, claim.reservation_id)
        if existing is not None:
            _require_same(existing, claim)
            return existing
        reservation = Reservation.held(
            tenant_id,
            claim.reservation_id,
            claim.kind,
            claim.plugin,
            claim.version,
            claim.amounts,
            tx.clock.now(),
        )
        quota = await tx.quotas.get(tenant_id)
        held = Amounts.total(r.amounts for r in await tx.reservations.live(tenant_id))
        missing = shortfalls(quota, held, claim.amounts)
        if missing:
            raise QuotaExceededError(
                f"tenant {tenant_id}'s quota leaves no room for {claim.kind}"
                f" {claim.reservation_id}: " + "; ".join(missing)
            )
        await tx.reservations.add(reservation)
    return reservation


async def release(
    uow: UnitOfWorkFactory, tenant_id: str, reservation_id: str, reason: str
) -> Reservation:
    """Releases the reservation (again: no change); an unknown id is released before its Reserve."""
    require_tenant_id(tenant_id)
    require_reservation_id(reservation_id)
    async with uow(tenant_id) as tx:
        await _lock_tenant(tx, tenant_id)
        existing = await tx.reservations.get(tenant_id, reservation_id)
        if existing is None:
            released = tombstone(tenant_id, reservation_id, reason, tx.clock.now())
            await tx.reservations.add(released)
            return released
        released = await _release(tx, existing, reason)
        if existing.state is ReservationState.IN_USE:
            await refresh_usage(tx, tenant_id)
    return released


async def release_install(
    tx: TenancyUnitOfWork, tenant_id: str, request_id: str, reason: str
) -> None:
    """An install request ended without going live (rejected, expired): its hold goes."""
    if not await tx.tenants.lock(tenant_id):
        return
    existing = await tx.reservations.get(tenant_id, request_id)
    if existing is not None and existing.state is ReservationState.HELD:
        await _release(tx, existing, reason)


async def uninstalled(tx: TenancyUnitOfWork, tenant_id: str, request_id: str, reason: str) -> None:
    """The tenant removed the plugin an install request installed: its reservation goes.

    In use (the version was live) it stops counting as usage, which is
    recomputed and announced; still held, its hold is released.
    """
    if not await tx.tenants.lock(tenant_id):
        return
    existing = await tx.reservations.get(tenant_id, request_id)
    if existing is None or not existing.live:
        return
    await _release(tx, existing, reason)
    if existing.state is ReservationState.IN_USE:
        await refresh_usage(tx, tenant_id)


async def went_live(
    tx: TenancyUnitOfWork, tenant_id: str, plugin: str, version: str, rollout_id: str
) -> None:
    """A rollout completed: the version's install holds become usage, replacing the plugin's older.

    A version rolled out without a reservation (a rollout requested directly)
    is usage all the same: one plugin, with no known resources. A tenant
    tenancy does not know has nothing to settle.
    """
    if not await tx.tenants.lock(tenant_id):
        return
    now = tx.clock.now()
    installs = await tx.reservations.live(tenant_id, kind=ReservationKind.INSTALL, plugin=plugin)
    arriving = [r for r in installs if r.version == version and r.state is ReservationState.HELD]
    if arriving:
        for reservation in arriving:
            await tx.reservations.save(reservation.in_use(now))
        for older in installs:
            if older.state is ReservationState.IN_USE:
                await _release(tx, older, f"replaced by {plugin}@{version}")
    elif not any(r.state is ReservationState.IN_USE for r in installs):
        live = Reservation.held(
            tenant_id,
            f"rollout:{rollout_id}",
            ReservationKind.INSTALL,
            plugin,
            version,
            Amounts(plugins=1),
            now,
        )
        await tx.reservations.add(live.in_use(now))
    await _end_rollout(tx, tenant_id, rollout_id, "completed")
    await refresh_usage(tx, tenant_id)


async def withdrawn(
    tx: TenancyUnitOfWork,
    tenant_id: str,
    plugin: str,
    version: str,
    rollout_id: str,
    *,
    reason: str,
) -> None:
    """A rollout was refused or rolled back: the version's install holds and the rollout's go."""
    if not await tx.tenants.lock(tenant_id):
        return
    installs = await tx.reservations.live(
        tenant_id, kind=ReservationKind.INSTALL, plugin=plugin, version=version
    )
    for reservation in installs:
        if reservation.state is ReservationState.HELD:
            await _release(tx, reservation, reason)
    await _end_rollout(tx, tenant_id, rollout_id, reason)


async def confirm(tx: TenancyUnitOfWork, tenant_id: str, reservation_id: str) -> None:
    """The owner recorded the work the hold is for: it no longer expires."""
    if not reservation_id or not await tx.tenants.lock(tenant_id):
        return
    existing = await tx.reservations.get(tenant_id, reservation_id)
    if existing is None:
        return
    confirmed = existing.confirmed(tx.clock.now())
    if confirmed is not existing:
        await tx.reservations.save(confirmed)


async def expire_unconfirmed(
    uow: UnitOfWorkFactory, ttl: timedelta, *, limit: int = 500
) -> list[Reservation]:
    """Releases up to `limit` holds never confirmed within `ttl`; each is announced.

    Each tenant is settled in a transaction of its own that takes the
    tenant's lock first, as Reserve and the event handlers do, so the sweep
    never releases a hold an event is confirming or settling at that moment,
    and replicas sweeping together release each hold once.
    """
    if ttl <= timedelta(0):
        raise InvalidReservationError("the hold time to live must be positive")
    async with uow(ALL_TENANTS) as tx:
        cutoff = tx.clock.now() - ttl
        tenants = await tx.reservations.tenants_with_unconfirmed(cutoff, limit)
    expired: list[Reservation] = []
    for tenant_id in tenants:
        if len(expired) >= limit:
            break
        async with uow(tenant_id) as tx:
            if not await tx.tenants.lock(tenant_id):
                continue
            now = tx.clock.now()
            due = await tx.reservations.unconfirmed(tenant_id, now - ttl, limit - len(expired))
            events = []
            for hold in due:
                if not hold.expired(now, ttl):
                    continue
                reason = f"hold expired: not confirmed within {ttl.total_seconds():g} s"
                expired.append(await _release(tx, hold, reason))
                events.append(
                    TenantReservationExpired(
                        tenant_id=tenant_id,
                        reservation_id=hold.reservation_id,
                        kind=hold.kind.value,
                        plugin=hold.plugin,
                        version=hold.version,
                        reserved_at=hold.created_at,
                        expired_at=now,
                    )
                )
            await tx.publish(events)
    return expired


async def usage_of(tx: TenancyUnitOfWork, tenant_id: str) -> tuple[Amounts, Amounts]:
    """What the tenant's reservations hold: (in use, held and not yet in use)."""
    live = await tx.reservations.live(tenant_id)
    in_use = Amounts.total(r.amounts for r in live if r.state is ReservationState.IN_USE)
    held = Amounts.total(r.amounts for r in live if r.state is ReservationState.HELD)
    return in_use, held


async def refresh_usage(tx: TenancyUnitOfWork, tenant_id: str) -> Usage | None:
    """Recomputes the tenant's usage from its reservations; announces it if it changed."""
    in_use, _ = await usage_of(tx, tenant_id)
    previous = await tx.usage.get(tenant_id)
    if previous is None and in_use == Amounts():
        return None  # nothing ever went live: no usage yet
    storage = previous.used.storage_mib if previous is not None else 0
    used = Resources(in_use.cpu_millicores, in_use.memory_mib, storage)
    if previous is not None and previous.used == used and previous.plugins == in_use.plugins:
        return None
    usage = Usage.replacing(previous, tenant_id, used, in_use.plugins, tx.clock.now())
    await tx.usage.save(usage)
    await tx.publish([TenantUsageUpdated(usage=usage)])
    return usage


async def _end_rollout(tx: TenancyUnitOfWork, tenant_id: str, rollout_id: str, reason: str) -> None:
    if not rollout_id:
        return
    held = await tx.reservations.get(tenant_id, rollout_id)
    if held is not None and held.kind is ReservationKind.ROLLOUT:
        await _release(tx, held, f"rollout {reason}")


async def _release(tx: TenancyUnitOfWork, reservation: Reservation, reason: str) -> Reservation:
    released = reservation.released(reason, tx.clock.now())
    if released is not reservation:
        await tx.reservations.save(released)
    return released


def _require_same(existing: Reservation, claim: Claim) -> None:
    if existing.state is ReservationState.RELEASED and not existing.plugin:
        return  # released before it was reserved: the caller learns it is released
    same = (existing.kind, existing.plugin, existing.version, existing.amounts) == (
        claim.kind,
        claim.plugin,
        claim.version,
        claim.amounts,
    )
    if not same:
        raise InvalidReservationError(
            f"reservation {claim.reservation_id} already holds another claim"
        )


async def _lock_tenant(tx: TenancyUnitOfWork, tenant_id: str) -> None:
    if not await tx.tenants.lock(tenant_id):
        raise TenantNotFoundError(f"tenant {tenant_id!r} not found")
