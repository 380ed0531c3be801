"""Idempotency keys with Stripe's semantics, for every mutating RPC.

Same key + same request → the stored response. Same key + another request →
an error. Same key while the first is still running → a conflict. A failed
request releases its key so the client may retry it. A key left `in_flight`
by a crashed process is reclaimed after `stale_after_seconds`, under a new
`attempt`. The transaction that commits the request's effect moves the key
to `applied` (idempotency_effects.py), so a retry after a crash between the
effect and the answer is refused as already applied instead of run twice.
Keys expire `ttl_seconds` after their first use (24 hours by default): an
expired key may be used again, and the kernel's retention purge
(portico_common.retention) deletes it in batches after that time.

A failed request whose release could not be written (PostgreSQL went away
under it) is remembered by the process that ran it, and released by the next
claim this process makes once PostgreSQL answers again: that process knows the
request has ended, so the client's retry need not wait out the stale period.
Only the claim that request made is released (matched on its attempt and
`updated_at`), so a later claim of the same key, by any replica, is never taken away.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from portico_common.db import Database
from portico_common.errors import (
    AlreadyExistsError,
    IdempotencyConflictError,
    InvalidArgumentError,
    PermissionDeniedError,
)

MAX_KEY_LENGTH = 255
# An in-flight key older than this is taken to belong to a crashed process.
IDEMPOTENCY_STALE_SECONDS = 60.0
DEFAULT_TTL_SECONDS = 24 * 3600.0


class IdempotentRequestAppliedError(AlreadyExistsError):
    """The request under this key took effect, but its answer was never stored (a crash).

    `error_reason` travels as a google.rpc.ErrorInfo, so a client that retried
    can tell "done, answer lost" from any other conflict without reading prose.
    """

    error_reason = "IDEMPOTENT_REQUEST_APPLIED"


log = logging.getLogger(__name__)


def request_fingerprint(method: str, request_bytes: bytes) -> bytes:
    return hashlib.sha256(method.encode() + b"\0" + request_bytes).digest()


class IdempotencyStore:
    """Keys and stored responses in the service's own schema, per tenant."""

    def __init__(
        self,
        db: Database,
        stale_after_seconds: float = IDEMPOTENCY_STALE_SECONDS,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
    ) -> None:
        self._db = db
        self._stale = stale_after_seconds
        self._ttl = ttl_seconds
        # (tenant, key) -> updated_at of the claim a request of this process holds.
        self._claims: dict[tuple[str, str], datetime] = {}
        # Claims of requests that ended in failure and whose release was not written.
        self._unreleased: dict[tuple[str, str], tuple[str, datetime]] = {}

    async def begin(  # noqa: PLR0917 - the key's columns, in the table's order
        self,
        tenant_id: str,
        key: str,
        method: str,
        fingerprint: bytes,
        subject: str = "",
        attempt: str = "",
    ) -> bytes | None:
        """Claims the key for `attempt`; returns a stored response if the request completed.

        A key belongs to the subject that used it first: another caller of the
        same tenant reusing it is refused, never handed that caller's response.
        A key past its time to live is claimed afresh, by anyone.
        """
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise InvalidArgumentError(
                f"idempotency-key must be 1..{MAX_KEY_LENGTH} printable characters"
            )
        await self._release_unreleased()
        async with self._db.transaction(tenant_id) as conn:
            row = await conn.fetchrow(
                """INSERT INTO idempotency_keys
                          (tenant_id, key, method, request_hash, state, subject, attempt)
                   VALUES ($1, $2, $3, $4, 'in_flight', $6, $7)
                   ON CONFLICT (tenant_id, key) DO UPDATE
                     SET state = 'in_flight', method = EXCLUDED.method,
                         request_hash = EXCLUDED.request_hash, updated_at = now(),
                         attempt = EXCLUDED.attempt, subject = EXCLUDED.subject,
                         response = NULL,
                         created_at = CASE
                             WHEN idempotency_keys.created_at
                                  < now() - make_interval(secs => $8)
                             THEN now() ELSE idempotency_keys.created_at END
                     WHERE (idempotency_keys.state = 'in_flight'
                            AND idempotency_keys.subject = EXCLUDED.subject
                            AND idempotency_keys.updated_at < now() - make_interval(secs => $5))
                        OR idempotency_keys.created_at < now() - make_interval(secs => $8)
                   RETURNING updated_at""",
                tenant_id,
                key,
                method,
                fingerprint,
                self._stale,
                subject,
                attempt,
                self._ttl,
            )
            if row is not None:
                self._claims[tenant_id, key] = row["updated_at"]
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
        if existing["state"] == "applied":
            raise IdempotentRequestAppliedError(
                f"the request with idempotency-key {key!r} took effect, but the server stopped"
                " before answering it: read the result instead of retrying"
            )
        return bytes(existing["response"])

    async def complete(self, tenant_id: str, key: str, response: bytes, attempt: str = "") -> None:
        """Stores the answer of the attempt that still holds the key."""
        # Were this write lost, the effect may have committed: the key stays in flight.
        self._claims.pop((tenant_id, key), None)
        async with self._db.transaction(tenant_id) as conn:
            await conn.execute(
                """UPDATE idempotency_keys SET state = 'done', response = $3, updated_at = now()
                   WHERE tenant_id = $1 AND key = $2 AND attempt = $4""",
                tenant_id,
                key,
                response,
                attempt,
            )

    async def release(self, tenant_id: str, key: str, attempt: str = "") -> None:
        """Frees a key whose attempt failed before any effect committed (`applied` stays).

        If PostgreSQL cannot be reached, remembers it and raises, and the next
        claim this process makes frees it."""
        claimed = self._claims.pop((tenant_id, key), None)
        if claimed is None:
            return
        try:
            await self._delete_claim(tenant_id, key, attempt, claimed)
        except Exception:
            self._unreleased[tenant_id, key] = (attempt, claimed)
            raise

    async def _release_unreleased(self) -> None:
        for (tenant_id, key), (attempt, claimed) in list(self._unreleased.items()):
            await self._delete_claim(tenant_id, key, attempt, claimed)
            del self._unreleased[tenant_id, key]
            log.info("idempotency key released after an outage", extra={"tenant_id": tenant_id})

    async def _delete_claim(
        self, tenant_id: str, key: str, attempt: str, claimed: datetime
    ) -> None:
        async with self._db.transaction(tenant_id) as conn:
            await conn.execute(
                """DELETE FROM idempotency_keys
                   WHERE tenant_id = $1 AND key = $2 AND state = 'in_flight'
                     AND attempt = $3 AND updated_at = $4""",
                tenant_id,
                key,
                attempt,
                claimed,
            )
