"""The idempotency key a request runs under, recorded in the transaction of its effect.

The interceptor claims a key (`in_flight`, with a fresh `attempt`) and sets
`current_claim` while the handler runs. Every transaction that handler
commits after writing something moves the key to `applied` in that same
transaction, and only if the claim still holds it (compare-and-set on
`attempt`): effect and key commit together or not at all. A retry after a
crash between the effect and the answer finds `applied` and is not run
again; a slow attempt whose claim went stale and was taken over cannot
commit its effect (IdempotencyConflictError rolls it back).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from portico_common.errors import IdempotencyConflictError

if TYPE_CHECKING:
    from portico_common.db import Connection


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """A request's idempotency key, and the attempt that holds it."""

    tenant_id: str
    key: str
    attempt: str


current_claim: ContextVar[KeyClaim | None] = ContextVar("idempotency_claim", default=None)


async def record_effect(conn: Connection, claim: KeyClaim) -> None:
    """Marks the key applied in this transaction if it wrote anything; refuses a lost claim."""
    wrote = await conn.fetchval("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")
    if not wrote:
        return  # a read-only transaction has no effect to guard
    scope = await conn.fetchval("SELECT current_setting('app.tenant_id', true)")
    if scope not in {claim.tenant_id, "*"}:
        # The key lives in its own tenant's rows; the transaction may be scoped elsewhere.
        await conn.execute("SELECT set_config('app.tenant_id', $1, true)", claim.tenant_id)
    status = await conn.execute(
        """UPDATE idempotency_keys SET state = 'applied', updated_at = now()
           WHERE tenant_id = $1 AND key = $2 AND attempt = $3
             AND state IN ('in_flight', 'applied')""",
        claim.tenant_id,
        claim.key,
        claim.attempt,
    )
    if scope not in {claim.tenant_id, "*"}:
        await conn.execute("SELECT set_config('app.tenant_id', $1, true)", scope)
    if status == "UPDATE 0":
        raise IdempotencyConflictError(
            f"idempotency-key {claim.key!r} was taken over by another attempt;"
            " this attempt's changes are rolled back"
        )
