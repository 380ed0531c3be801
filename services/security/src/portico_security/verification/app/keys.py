"""Publisher key use cases: register, rotate with an overlap window, revoke, list.

Every lifecycle change happens under the key's row lock, in one transaction,
so two racing rotations of one key cannot both win and a refused request
changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from portico_common.tenants import require_tenant_id
from portico_security.verification.app.commands import (
    RegisterPublisherKey,
    RevokePublisherKey,
    RotatePublisherKey,
)
from portico_security.verification.app.ports import VerificationUowFactory
from portico_security.verification.app.validation import MAX_TEXT, check_register
from portico_security.verification.domain import keys as lifecycle
from portico_security.verification.domain.signatures import (
    PublisherKey,
    canonical_pem,
    key_algorithm,
    same_key,
)
from portico_security.verification.errors import (
    InvalidRequestError,
    KeyAlreadyRegisteredError,
    UnknownKeyError,
)

# A rotation's old key never stays valid longer than this after it.
MAX_OVERLAP = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class RotatedKeys:
    old_key: PublisherKey
    new_key: PublisherKey


async def register_publisher_key(
    uow: VerificationUowFactory, command: RegisterPublisherKey
) -> PublisherKey:
    """Registers a publisher key for the tenant.

    Registering the same key again (same id, publisher, algorithm and key
    material) returns the stored key unchanged, so a retried call succeeds;
    the same id with anything different is KeyAlreadyRegisteredError. Key
    ids are never reused for another key.
    """
    check_register(command)
    algorithm = key_algorithm(command.algorithm)
    pem = canonical_pem(command.public_key_pem, algorithm)
    async with uow(command.tenant_id) as tx:
        key = PublisherKey(
            tenant_id=command.tenant_id,
            publisher=command.publisher,
            key_id=command.key_id,
            algorithm=algorithm,
            public_key_pem=pem,
            created_at=tx.clock.now(),
            expires_at=command.expires_at,
        )
        if await tx.publisher_keys.add(key):
            return key
        existing = await tx.publisher_keys.get(key.tenant_id, key.key_id)
        if existing is None:  # pragma: no cover - keys are never deleted
            raise KeyAlreadyRegisteredError(key.tenant_id, key.key_id)
        if not same_key(existing, key):
            raise KeyAlreadyRegisteredError(key.tenant_id, key.key_id)
        if existing.publisher != key.publisher:
            raise KeyAlreadyRegisteredError(
                key.tenant_id, key.key_id, f"another publisher ({existing.publisher!r})"
            )
        if command.expires_at is not None and existing.expires_at != command.expires_at:
            # Lifecycle changes go through RotatePublisherKey / RevokePublisherKey.
            raise KeyAlreadyRegisteredError(
                key.tenant_id, key.key_id, f"another expiry ({existing.expires_at})"
            )
        return existing


async def rotate_publisher_key(
    uow: VerificationUowFactory, command: RotatePublisherKey
) -> RotatedKeys:
    """Registers the new key and sets the old key's deadline to now + overlap.

    Repeating a rotation that already happened (same new key) returns the
    stored pair unchanged; anything that cannot be rotated raises and
    nothing is stored.
    """
    require_tenant_id(command.tenant_id)
    if command.overlap < timedelta(0) or command.overlap > MAX_OVERLAP:
        raise InvalidRequestError("overlap", f"must be between 0 and {MAX_OVERLAP.days} days")
    async with uow(command.tenant_id) as tx:
        old = await tx.publisher_keys.get_for_update(command.tenant_id, command.key_id)
        if old is None:
            raise UnknownKeyError(command.tenant_id, command.key_id)
        check_register(
            RegisterPublisherKey(
                tenant_id=command.tenant_id,
                publisher=old.publisher,
                key_id=command.new_key_id,
                algorithm=command.algorithm,
                public_key_pem=command.public_key_pem,
            )
        )
        algorithm = key_algorithm(command.algorithm)
        # One instant: the old key's deadline is exactly `overlap` after the new key's birth.
        now = tx.clock.now()
        new = PublisherKey(
            tenant_id=command.tenant_id,
            publisher=old.publisher,
            key_id=command.new_key_id,
            algorithm=algorithm,
            public_key_pem=canonical_pem(command.public_key_pem, algorithm),
            created_at=now,
            expires_at=command.new_key_expires_at,
        )
        if old.replaced_by == new.key_id:
            stored = await tx.publisher_keys.get(command.tenant_id, new.key_id)
            if stored is not None and stored.public_key_pem == new.public_key_pem:
                return RotatedKeys(old, stored)
        rotated = lifecycle.rotate(old, new, now, command.overlap)
        if not await tx.publisher_keys.add(new):
            raise KeyAlreadyRegisteredError(command.tenant_id, new.key_id, "an existing key")
        await tx.publisher_keys.update_lifecycle(rotated)
    return RotatedKeys(rotated, new)


async def revoke_publisher_key(
    uow: VerificationUowFactory, command: RevokePublisherKey
) -> PublisherKey:
    """Revokes the key; revoking a revoked key returns it unchanged (the first reason stays)."""
    require_tenant_id(command.tenant_id)
    if len(command.reason) > MAX_TEXT or "\x00" in command.reason:
        raise InvalidRequestError("reason", f"must be at most {MAX_TEXT} characters, without NUL")
    async with uow(command.tenant_id) as tx:
        key = await tx.publisher_keys.get_for_update(command.tenant_id, command.key_id)
        if key is None:
            raise UnknownKeyError(command.tenant_id, command.key_id)
        revoked = lifecycle.revoke(key, tx.clock.now(), command.reason)
        if revoked is not key:
            await tx.publisher_keys.update_lifecycle(revoked)
    return revoked


async def list_publisher_keys(
    uow: VerificationUowFactory, tenant_id: str, publisher: str = ""
) -> list[PublisherKey]:
    """The tenant's keys (of `publisher` if given), revoked and expired ones included."""
    require_tenant_id(tenant_id)
    if len(publisher) > MAX_TEXT:
        raise InvalidRequestError("publisher", f"is longer than {MAX_TEXT} characters")
    async with uow(tenant_id) as tx:
        return await tx.publisher_keys.list(tenant_id, publisher)
