"""The lifecycle of a publisher key: rotate (with an overlap window), expire, revoke.

The rule a signature is judged by, given the time the artifact was published:

- a **revoked** key vouches for nothing, whatever the publish time: revocation
  answers a compromise, and whoever holds a stolen key can also claim any
  publish time, so no timestamp may rescue a signature by it;
- an **expired** key (expiry set at registration, or by a rotation's overlap
  window) vouches only for artifacts published strictly *before* its expiry,
  as npm treats its registry keys;
- the publish time comes from the registry (npm's packument `time`); a claim
  in the future is refused, and an absent one means "now", the strictest
  reading;
- a version a tenant has verified is pinned to the integrity it was first
  VERIFIED with (the "version-pin" check): npm versions are immutable, so
  other bytes under the same name@version are refused whoever signed them.

A replayed old version therefore verifies only as what it was: the same bytes
(integrity), name and version, signed by a key that was valid when it was
published and has not been revoked since. Re-signing other bytes with an
expired key fails, backdating them fails for any version already verified
(the pin) and otherwise helps only until the key is revoked, which is what a
leaked key calls for.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from portico_security.verification.domain.signatures import PublisherKey
from portico_security.verification.errors import InvalidPublisherKeyError, KeyRotationError


def key_problem(key: PublisherKey, published_at: datetime) -> str | None:
    """Why `key` cannot vouch for an artifact published at `published_at`, or None if it can."""
    if key.revoked_at is not None:
        reason = f" ({key.revocation_reason})" if key.revocation_reason else ""
        return f"publisher key {key.key_id!r} was revoked at {_iso(key.revoked_at)}{reason}"
    if key.expires_at is not None and published_at >= key.expires_at:
        return (
            f"publisher key {key.key_id!r} expired at {_iso(key.expires_at)}; "
            f"the artifact was published at {_iso(published_at)}, not before it"
        )
    return None


def revoke(key: PublisherKey, now: datetime, reason: str) -> PublisherKey:
    """`key` revoked at `now`; a key revoked already is returned unchanged (idempotent)."""
    if key.revoked_at is not None:
        return key
    return replace(key, revoked_at=now, revocation_reason=reason)


def rotate(old: PublisherKey, new: PublisherKey, now: datetime, overlap: timedelta) -> PublisherKey:
    """`old` after being replaced by `new`: valid for artifacts published before now + overlap.

    An earlier expiry the old key already had is kept (a rotation never extends
    a key's life). Raises KeyRotationError when the rotation makes no sense.
    """
    if overlap < timedelta(0):
        raise InvalidPublisherKeyError("overlap", f"must be >= 0, got {overlap}")
    if old.revoked_at is not None:
        raise KeyRotationError(old.key_id, "it is revoked; register a new key instead")
    if old.replaced_by:
        raise KeyRotationError(old.key_id, f"it was already replaced by {old.replaced_by!r}")
    if old.expires_at is not None and old.expires_at <= now:
        raise KeyRotationError(old.key_id, f"it expired at {_iso(old.expires_at)}")
    if new.key_id == old.key_id:
        raise KeyRotationError(old.key_id, "the new key must have another key id")
    if new.publisher != old.publisher:
        raise KeyRotationError(
            old.key_id, f"the new key's publisher {new.publisher!r} is not {old.publisher!r}"
        )
    deadline = now + overlap
    if old.expires_at is not None:
        deadline = min(deadline, old.expires_at)
    return replace(old, expires_at=deadline, replaced_by=new.key_id)


def _iso(moment: datetime) -> str:
    return moment.isoformat()
