"""Data-key use cases: hand a tenant's keys to a service, describe, rotate, shred; rotate the KEK.

Keys are stored wrapped (`KeyEncryptionKey`, the KMS port) and unwrapped
only on their way to a service. A tenant's first key is made on the first
request for it. KEK rotation re-wraps stored keys and re-encrypts no value;
data-key rotation adds a version that seals new values while old ones stay
readable; shredding deletes every wrapped key and leaves a tombstone.
"""

from __future__ import annotations

from datetime import datetime

from portico_common.crypto.envelope import DataKey
from portico_common.crypto.keyring import TenantKeys
from portico_common.crypto.kms import KeyEncryptionKey, wrap_context
from portico_common.tenants import ALL_TENANTS, require_tenant_id
from portico_tenancy.app.ports import TenancyUnitOfWork, UnitOfWorkFactory
from portico_tenancy.domain.keys import KeyRing, WrappedDataKey
from portico_tenancy.errors import DataKeysNotFoundError, DataKeysShreddedError

REWRAP_BATCH = 100


async def _wrapped(
    kek: KeyEncryptionKey, tenant_id: str, key: DataKey, now: datetime
) -> WrappedDataKey:
    wrapped = await kek.wrap(key.material, wrap_context(tenant_id, key.version))
    return WrappedDataKey(tenant_id, key.version, wrapped, kek.name, kek.kek_version(wrapped), now)


async def data_keys(uow: UnitOfWorkFactory, kek: KeyEncryptionKey, tenant_id: str) -> TenantKeys:
    """The tenant's keys unwrapped (its first key is made now if it has none)."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        ring = await tx.data_keys.ring(tenant_id)
        stored = [] if ring is None else await tx.data_keys.keys(tenant_id)
    if ring is None:
        first = DataKey.generate(1)
        async with uow(tenant_id) as tx:
            now = tx.clock.now()
            created = await tx.data_keys.create(
                KeyRing.first(tenant_id, now), await _wrapped(kek, tenant_id, first, now)
            )
        if created:
            return TenantKeys(tenant_id, 1, {1: first})
        return await data_keys(uow, kek, tenant_id)  # another request made it first
    if ring.primary_version is None:
        return TenantKeys.destroyed(tenant_id)
    keys = {}
    for key in stored:
        material = await kek.unwrap(key.wrapped, wrap_context(tenant_id, key.version))
        keys[key.version] = DataKey(key.version, material)
    return TenantKeys(tenant_id, ring.primary_version, keys)


async def describe_data_keys(
    uow: UnitOfWorkFactory, tenant_id: str
) -> tuple[KeyRing, list[WrappedDataKey]]:
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        ring = await tx.data_keys.ring(tenant_id)
        if ring is None:
            raise DataKeysNotFoundError(tenant_id)
        return ring, await tx.data_keys.keys(tenant_id)


async def rotate_data_key(uow: UnitOfWorkFactory, kek: KeyEncryptionKey, tenant_id: str) -> int:
    """Adds the next version and makes it primary; returns it."""
    await data_keys(uow, kek, tenant_id)  # a tenant without keys gets its first one
    async with uow(tenant_id) as tx:
        ring = await tx.data_keys.ring(tenant_id, lock=True)
        if ring is None or ring.primary_version is None:
            raise DataKeysShreddedError(tenant_id)
        rotated = ring.rotated(tx.clock.now())
        assert rotated.primary_version is not None  # noqa: S101 - rotated() sets it
        key = DataKey.generate(rotated.primary_version)
        await tx.data_keys.add(rotated, await _wrapped(kek, tenant_id, key, rotated.updated_at))
    return rotated.primary_version


async def shred_data_keys(uow: UnitOfWorkFactory, tenant_id: str) -> tuple[int, datetime]:
    """Destroys every key of the tenant; returns how many, and when the ring was shredded."""
    require_tenant_id(tenant_id)
    async with uow(tenant_id) as tx:
        return await shred_in(tx, tenant_id, tx.clock.now())


async def shred_in(tx: TenancyUnitOfWork, tenant_id: str, now: datetime) -> tuple[int, datetime]:
    """Shreds the tenant's keys inside the caller's transaction (a deletion's last step)."""
    ring = await tx.data_keys.ring(tenant_id, lock=True)
    if ring is None:
        # A tenant that never had keys gets the tombstone, so none is ever made.
        ring = KeyRing.first(tenant_id, now)
        await tx.data_keys.create(ring, None)
    shredded = ring.shred(now)
    destroyed = await tx.data_keys.shred(shredded)
    assert shredded.shredded_at is not None  # noqa: S101 - shred() sets it
    return destroyed, shredded.shredded_at


async def rotate_key_encryption_key(
    uow: UnitOfWorkFactory, kek: KeyEncryptionKey
) -> tuple[int, int]:
    """Rotates the KEK, then re-wraps every stored key under it; (new version, re-wrapped)."""
    version = await kek.rotate()
    rewrapped = 0
    while True:
        async with uow(ALL_TENANTS) as tx:
            batch = await tx.data_keys.under_older_kek(kek.name, version, REWRAP_BATCH)
            for key in batch:
                wrapped = await kek.rewrap(key.wrapped, wrap_context(key.tenant_id, key.version))
                await tx.data_keys.rewrapped(
                    WrappedDataKey(
                        key.tenant_id,
                        key.version,
                        wrapped,
                        kek.name,
                        kek.kek_version(wrapped),
                        key.created_at,
                    )
                )
        rewrapped += len(batch)
        if len(batch) < REWRAP_BATCH:
            return version, rewrapped
