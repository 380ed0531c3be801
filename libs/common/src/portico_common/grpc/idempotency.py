"""Idempotency keys with Stripe's semantics, for every mutating RPC.

Same key + same request → the stored response. Same key + another request →
an error. Same key while the first is still running → a conflict. A failed
request releases its key so the client may retry it. A key left `in_flight`
by a crashed process is reclaimed after `stale_after_seconds`.
"""

from __future__ import annotations

import hashlib

from portico_common.db import Database
from portico_common.errors import (
    IdempotencyConflictError,
    InvalidArgumentError,
    PermissionDeniedError,
)

MAX_KEY_LENGTH = 255
# An in-flight key older than this is taken to belong to a crashed process.
IDEMPOTENCY_STALE_SECONDS = 60.0


def request_fingerprint(method: str, request_bytes: bytes) -> bytes:
    return hashlib.sha256(method.encode() + b"\0" + request_bytes).digest()


class IdempotencyStore:
    """Keys and stored responses in the service's own schema, per tenant."""

    def __init__(
        self, db: Database, stale_after_seconds: float = IDEMPOTENCY_STALE_SECONDS
    ) -> None:
        self._db = db
        self._stale = stale_after_seconds

    async def begin(
        self, tenant_id: str, key: str, method: str, fingerprint: bytes, subject: str = ""
    ) -> bytes | None:
        """Claims the key; returns a stored response if this request already completed.

        A key belongs to the subject that used it first: another caller of the
        same tenant reusing it is refused, never handed that caller's response.
        """
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise InvalidArgumentError(
                f"idempotency-key must be 1..{MAX_KEY_LENGTH} printable characters"
            )
        async with self._db.transaction(tenant_id) as conn:
            row = await conn.fetchrow(
                """INSERT INTO idempotency_keys
                          (tenant_id, key, method, request_hash, state, subject)
                   VALUES ($1, $2, $3, $4, 'in_flight', $6)
                   ON CONFLICT (tenant_id, key) DO UPDATE
                     SET state = 'in_flight', method = EXCLUDED.method,
                         request_hash = EXCLUDED.request_hash, updated_at = now()
                     WHERE idempotency_keys.state = 'in_flight'
                       AND idempotency_keys.subject = EXCLUDED.subject
                       AND idempotency_keys.updated_at < now() - make_interval(secs => $5)
                   RETURNING true AS claimed""",
                tenant_id,
                key,
                method,
                fingerprint,
                self._stale,
                subject,
            )
            if row is not None:
                return None
            existing = await conn.fetchrow(
                """SELECT method, request_hash, state, response, subject FROM idempotency_keys
                   WHERE tenant_id = $1 AND key = $2""",
                tenant_id,
                key,
            )
        if existing is None:  # released between the two statements: treat as in flight
            raise IdempotencyConflictError(f"a request with idempotency-key {key!r} is in flight")
        if existing["subject"] != subject:
            raise PermissionDeniedError(f"idempotency-key {key!r} belongs to another caller")
        if existing["method"] != method or bytes(existing["request_hash"]) != fingerprint:
            raise InvalidArgumentError(
                f"idempotency-key {key!r} was already used for a different request"
            )
        if existing["state"] == "in_flight":
            raise IdempotencyConflictError(f"a request with idempotency-key {key!r} is in flight")
        return bytes(existing["response"])

    async def complete(self, tenant_id: str, key: str, response: bytes) -> None:
        async with self._db.transaction(tenant_id) as conn:
            await conn.execute(
                """UPDATE idempotency_keys SET state = 'done', response = $3, updated_at = now()
                   WHERE tenant_id = $1 AND key = $2""",
                tenant_id,
                key,
                response,
            )

    async def release(self, tenant_id: str, key: str) -> None:
        async with self._db.transaction(tenant_id) as conn:
            await conn.execute(
                """DELETE FROM idempotency_keys
                   WHERE tenant_id = $1 AND key = $2 AND state = 'in_flight'""",
                tenant_id,
                key,
            )
