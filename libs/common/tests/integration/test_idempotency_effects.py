"""Idempotency keys recorded in the transaction of the effect, their expiry and their purge."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from portico_common.clock import ManualClock
from portico_common.db import Database
from portico_common.errors import IdempotencyConflictError
from portico_common.grpc.idempotency import (
    IdempotencyPurge,
    IdempotencyStore,
    IdempotentRequestAppliedError,
    request_fingerprint,
)
from portico_common.idempotency_effects import KeyClaim, current_claim

pytestmark = pytest.mark.integration

CREATE = "/portico.tenancy.v1.TenancyService/CreateTenant"
FP = request_fingerprint(CREATE, b"\x0a\x04acme")


async def _effect(db: Database, claim: KeyClaim, *, write: bool = True) -> None:
    """One transaction of a handler running under `claim`: it writes a row, or only reads."""
    token = current_claim.set(claim)
    try:
        async with db.transaction("acme") as conn:
            if write:
                await conn.execute(
                    "INSERT INTO access_denials (tenant_id, subject, method, permission, roles,"
                    " scopes) VALUES ('acme', 'effect', 'm', 'p', '{}', '{}')"
                )
            else:
                await conn.fetchval("SELECT count(*) FROM access_denials")
    finally:
        current_claim.reset(token)


async def _effects(db: Database) -> int:
    async with db.transaction("acme") as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM access_denials WHERE subject = 'effect'"
        )
    return count


async def test_the_effect_commits_with_its_key_and_a_retry_is_refused_not_run(db: Database) -> None:
    """After the effect's transaction the key is applied; a retry before any answer is refused."""
    store = IdempotencyStore(db, stale_after_seconds=0.01)
    await store.begin("acme", "k1", CREATE, FP, attempt="a1")
    await _effect(db, KeyClaim("acme", "k1", "a1"))
    await asyncio.sleep(0.05)  # long past the stale period: an applied key is never reclaimed
    with pytest.raises(IdempotentRequestAppliedError, match="took effect"):
        await store.begin("acme", "k1", CREATE, FP, attempt="a2")
    # A failure after the effect does not free the key either.
    await store.release("acme", "k1", "a1")
    with pytest.raises(IdempotentRequestAppliedError):
        await store.begin("acme", "k1", CREATE, FP, attempt="a3")
    await store.complete("acme", "k1", b"answer", "a1")
    assert await store.begin("acme", "k1", CREATE, FP, attempt="a4") == b"answer"
    assert await _effects(db) == 1


async def test_a_read_only_transaction_does_not_mark_the_key_applied(db: Database) -> None:
    """A handler that only read before failing leaves the key free for the retry."""
    store = IdempotencyStore(db)
    await store.begin("acme", "k1", CREATE, FP, attempt="a1")
    await _effect(db, KeyClaim("acme", "k1", "a1"), write=False)
    await store.release("acme", "k1", "a1")
    assert await store.begin("acme", "k1", CREATE, FP, attempt="a2") is None


async def test_a_slow_attempt_whose_claim_was_taken_over_cannot_commit(db: Database) -> None:
    """The stale attempt's effect is rolled back: only the attempt holding the key commits one."""
    store = IdempotencyStore(db, stale_after_seconds=0.01)
    await store.begin("acme", "k1", CREATE, FP, attempt="slow")
    await asyncio.sleep(0.05)
    assert await store.begin("acme", "k1", CREATE, FP, attempt="retry") is None
    await _effect(db, KeyClaim("acme", "k1", "retry"))
    with pytest.raises(IdempotencyConflictError, match="taken over by another attempt"):
        await _effect(db, KeyClaim("acme", "k1", "slow"))
    assert await _effects(db) == 1


async def test_a_key_expires_after_its_time_to_live_and_may_be_used_again(db: Database) -> None:
    """Past the time to live the stored answer is forgotten and the key claimed afresh."""
    store = IdempotencyStore(db, ttl_seconds=0.05)
    await store.begin("acme", "k1", CREATE, FP, attempt="a1")
    await store.complete("acme", "k1", b"old", "a1")
    assert await store.begin("acme", "k1", CREATE, FP, attempt="a2") == b"old"
    await asyncio.sleep(0.1)
    assert await store.begin("acme", "k1", CREATE, FP, attempt="a3") is None


async def test_the_purge_deletes_expired_keys_in_batches_by_the_clock(db: Database) -> None:
    """Keys older than the time to live by the Clock go, batch by batch; younger ones stay."""
    store = IdempotencyStore(db, ttl_seconds=3600)
    for tenant in ("acme", "beta"):
        for i in range(5):
            await store.begin(tenant, f"k{i}", CREATE, FP, attempt="a")
            await store.complete(tenant, f"k{i}", b"r", "a")
    async with db.transaction("acme") as conn:
        await conn.execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '2 hours',"
            " updated_at = now() - interval '2 hours' WHERE key IN ('k0', 'k1', 'k2')"
        )
    async with db.transaction("beta") as conn:
        await conn.execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '2 hours',"
            " updated_at = now() - interval '2 hours' WHERE key = 'k0'"
        )
    clock = ManualClock(datetime.now(UTC))
    purge = IdempotencyPurge(store, clock, interval_seconds=60, batch=2)
    assert await purge.tick() == 4
    assert await purge.tick() == 0
    # An hour later by the Clock, the rest are past their time to live too.
    clock.advance(seconds=timedelta(hours=1, minutes=1).total_seconds())
    assert await purge.tick() == 6
    async with db.transaction("*") as conn:
        assert await conn.fetchval("SELECT count(*) FROM idempotency_keys") == 0
